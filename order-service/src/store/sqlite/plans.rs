//! The query plans of the SQLite order store: every list, lookup and worker query reads through
//! the index made for it, never a scan of all orders, and never sorts what the index orders; and
//! the lists' SQL and parameters are the ones those plans are checked on.

use super::{find_by_key_sql, list_queries, SqliteOrderStore, DUE_RELEASES};
use crate::domain::OrderStatus;
use crate::store::OrderFilter;
use rusqlite::types::Value;
use shared::store::PageRequest;
use test_support::indexes::{assert_index_filtered, assert_index_served};

async fn store() -> SqliteOrderStore {
    SqliteOrderStore::connect("sqlite::memory:")
        .await
        .expect("in-memory store")
}

#[tokio::test]
async fn every_order_list_and_its_total_read_through_the_index_for_its_filter() {
    let store = store().await;
    let user = Some("64b7f0c2a1b2c3d4e5f60718".to_string());
    let paid = Some(OrderStatus::Confirmed);
    // (filter, index of the page, what the total's index narrows on)
    let cases = [
        // A user's own orders, newest first (`GET /api/orders`).
        (user.clone(), None, "orders_user", "(user_id=?)"),
        // A user's orders in one status.
        (user, paid, "orders_user_status", "(user_id=? AND status=?)"),
        // An admin's view of one status.
        (None, paid, "orders_status_created", "(status=?)"),
        // An admin's view of everything, newest first; its total counts a whole index.
        (None, None, "orders_created", ""),
    ];
    let page = PageRequest { page: 3, limit: 10 };
    for (user_id, status, index, narrowed) in cases {
        let filter = OrderFilter { user_id, status };
        let (count, rows) = list_queries(&filter, page);
        assert_index_served(&store.db, &rows.sql, &[index]).await;
        // The total is counted from an index alone, on the filtered range only.
        let plan = assert_index_filtered(&store.db, &count.sql, &[]).await;
        let covering = plan
            .iter()
            .any(|l| l.contains("USING COVERING INDEX") && l.ends_with(narrowed));
        assert!(covering, "{}: {plan:?}", count.sql);
    }
}

#[tokio::test]
async fn idempotency_lookups_and_release_claims_read_through_their_indexes() {
    let store = store().await;
    let key_lookup = find_by_key_sql();
    assert_index_served(&store.db, &key_lookup, &["orders_user_idempotency"]).await;
    assert_index_served(&store.db, DUE_RELEASES, &["release_tasks_due"]).await;
}

#[test]
fn list_queries_name_only_the_filters_set_and_bind_them_in_order() {
    let cols = super::COLS;
    let page = PageRequest { page: 3, limit: 10 };
    let user = Some("u1".to_string());
    let paid = Some(OrderStatus::Confirmed);
    let text = |s: &str| Value::Text(s.to_owned());
    let cases = [
        (user.clone(), None, " WHERE user_id = ?", vec![text("u1")]),
        (
            user,
            paid,
            " WHERE user_id = ? AND status = ?",
            vec![text("u1"), text("confirmed")],
        ),
        (None, paid, " WHERE status = ?", vec![text("confirmed")]),
        (None, None, "", vec![]),
    ];
    for (user_id, status, filter_sql, filter_params) in cases {
        let (count, rows) = list_queries(&OrderFilter { user_id, status }, page);
        assert_eq!(
            count.sql,
            format!("SELECT COUNT(*) FROM orders{filter_sql}")
        );
        assert_eq!(count.params, filter_params);
        assert_eq!(
            rows.sql,
            format!(
                "SELECT {cols} FROM orders{filter_sql} \
                 ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
            )
        );
        let mut page_params = filter_params;
        page_params.extend([Value::Integer(10), Value::Integer(20)]);
        assert_eq!(rows.params, page_params);
    }
}
