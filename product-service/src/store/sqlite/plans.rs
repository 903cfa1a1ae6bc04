//! The query plans of the SQLite product store: every list and its total read through the index
//! made for its filter and sort, never a scan of the whole catalogue, and never sort what the
//! index already orders; a bulk lookup reads by primary key.

use super::{active_many_query, list_queries, SqliteProductStore};
use crate::domain::{ProductFilter, SortOrder};
use shared::store::PageRequest;
use test_support::indexes::{assert_index_filtered, assert_index_served};

const PAGE: PageRequest = PageRequest { page: 2, limit: 20 };

async fn store() -> SqliteProductStore {
    SqliteProductStore::connect("sqlite::memory:")
        .await
        .expect("in-memory store")
}

fn filter(category: Option<&str>, prices: Option<(i64, i64)>, sort: SortOrder) -> ProductFilter {
    ProductFilter {
        is_active: true,
        category: category.map(str::to_string),
        min_price_cents: prices.map(|p| p.0),
        max_price_cents: prices.map(|p| p.1),
        search: None,
        sort,
    }
}

#[tokio::test]
async fn each_sort_both_ways_with_or_without_a_category_reads_its_index_in_order() {
    let store = store().await;
    let cases = [
        (
            SortOrder::CreatedDesc,
            "products_created",
            "products_category_created",
        ),
        (
            SortOrder::CreatedAsc,
            "products_created",
            "products_category_created",
        ),
        (
            SortOrder::PriceAsc,
            "products_by_price",
            "products_category_price",
        ),
        (
            SortOrder::PriceDesc,
            "products_by_price",
            "products_category_price",
        ),
        (
            SortOrder::NameAsc,
            "products_by_name",
            "products_category_name",
        ),
        (
            SortOrder::NameDesc,
            "products_by_name",
            "products_category_name",
        ),
    ];
    assert_eq!(cases.len(), SortOrder::ALLOWED.len(), "every sort");
    // An admin's list of inactive products reads the same indexes.
    for is_active in [true, false] {
        for (sort, all, in_category) in cases {
            let mut f = filter(None, None, sort);
            f.is_active = is_active;
            let (_, rows) = list_queries(&f, PAGE);
            assert_index_served(&store.db, &rows.sql, &[all]).await;
            f.category = Some("Books".into());
            let (_, rows) = list_queries(&f, PAGE);
            assert_index_served(&store.db, &rows.sql, &[in_category]).await;
        }
    }
}

#[tokio::test]
async fn a_price_range_is_a_range_of_a_price_index() {
    let store = store().await;
    let range = Some((1_000, 5_000));
    for sort in [SortOrder::PriceAsc, SortOrder::PriceDesc] {
        let (count, rows) = list_queries(&filter(None, range, sort), PAGE);
        assert_index_served(&store.db, &rows.sql, &["products_by_price"]).await;
        assert_index_filtered(&store.db, &count.sql, &["products_by_price"]).await;
        let (count, rows) = list_queries(&filter(Some("Books"), range, sort), PAGE);
        assert_index_served(&store.db, &rows.sql, &["products_category_price"]).await;
        assert_index_filtered(&store.db, &count.sql, &["products_category_price"]).await;
    }
    // Sorted by something else, the range still narrows through an index (no whole-table scan).
    for sort in [
        SortOrder::CreatedDesc,
        SortOrder::NameAsc,
        SortOrder::NameDesc,
    ] {
        for category in [None, Some("Books")] {
            let (_, rows) = list_queries(&filter(category, range, sort), PAGE);
            assert_index_filtered(&store.db, &rows.sql, &[]).await;
        }
    }
}

#[tokio::test]
async fn totals_and_searches_read_only_active_products_through_an_index() {
    let store = store().await;
    for category in [None, Some("Books")] {
        let (count, _) = list_queries(&filter(category, None, SortOrder::default()), PAGE);
        let plan = assert_index_filtered(&store.db, &count.sql, &[]).await;
        let narrowed = match category {
            None => "(is_active=?)",
            Some(_) => "(is_active=? AND category=?)",
        };
        assert!(plan.iter().any(|l| l.ends_with(narrowed)), "{plan:?}");
        // A search matches a substring, which no index can find: it reads the active products
        // (of the category) in the order of the sort, through the same index.
        let mut searched = filter(category, None, SortOrder::CreatedDesc);
        searched.search = Some("lamp".into());
        let (count, rows) = list_queries(&searched, PAGE);
        let index = match category {
            None => "products_created",
            Some(_) => "products_category_created",
        };
        assert_index_served(&store.db, &rows.sql, &[index]).await;
        assert_index_filtered(&store.db, &count.sql, &[]).await;
    }
}

#[tokio::test]
async fn a_bulk_lookup_reads_each_id_by_primary_key() {
    let store = store().await;
    let ids = ["a".to_string(), "b".to_string(), "c".to_string()];
    let q = active_many_query(&ids);
    assert_eq!(
        q.sql,
        "SELECT * FROM products WHERE is_active = 1 AND _id IN (?, ?, ?)"
    );
    assert_eq!(q.params.len(), ids.len());
    assert_index_filtered(&store.db, &q.sql, &["sqlite_autoindex_products_1"]).await;
}
