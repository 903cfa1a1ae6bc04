//! The `ProductStore` contract: every check runs against SQLite, and against MongoDB when
//! `MONGO_TEST_URL` is set (a fresh database per test, dropped after).
#![allow(clippy::unwrap_used)]

use product_service::domain::{
    NewProduct, ProductFilter, ProductPatch, ReservationLine, ReservationStatus, SortOrder,
};
use product_service::store::{connect, ProductStore, ReserveError};
use shared::mongo::MongoOptions;
use shared::store::{PageRequest, StoreError};
use std::sync::Arc;

/// Metadata as the wire makes it: the compact JSON text of an object.
fn meta(v: serde_json::Value) -> product_service::domain::Metadata {
    product_service::domain::Metadata::from_json_text(v.to_string())
}

fn new_product(sku: &str, price_cents: i64, stock: i64) -> NewProduct {
    NewProduct {
        name: format!("Product {sku}"),
        description: format!("Description of {sku}"),
        price_cents,
        stock,
        category: "General".into(),
        sku: sku.into(),
        images: vec!["https://cdn.example.com/a.png".into()],
        is_active: true,
        metadata: Some(meta(serde_json::json!({"color": "red"}))),
    }
}

fn line(id: &str, quantity: i64) -> ReservationLine {
    ReservationLine {
        product_id: id.into(),
        quantity,
    }
}

const PAGE: PageRequest = PageRequest { page: 1, limit: 20 };

async fn stock_of(store: &dyn ProductStore, id: &str) -> i64 {
    store.get(id).await.unwrap().unwrap().fields.stock
}
mod products;
mod reservations;

use products::*;
use reservations::*;

async fn connect_store(url: &str) -> Arc<dyn ProductStore> {
    connect(url, MongoOptions::default()).await.unwrap()
}

test_support::store_contract!(
    connect: connect_store,
    checks: [
    check_create_then_get_round_trips,
    check_duplicate_sku_is_a_conflict,
    check_list_filters_sorts_and_pages,
    check_update_applies_patch_and_keeps_sku_unique,
    check_soft_delete_hides_from_lists_but_keeps_the_record,
    check_bulk_returns_active_products_in_request_order,
    check_reserve_is_all_or_nothing,
    check_reserve_sums_lines_and_is_idempotent,
    check_release_puts_stock_back_once,
    check_name_sort_ignores_case,
    check_search_matches_regex_characters_literally,
    check_a_failed_reservation_leaves_the_order_free_to_reserve,
    check_update_keeps_metadata_and_timestamps_consistent,
    check_every_sort_key_orders_both_ways,
    check_the_inactive_products_are_listed_apart,
    ],
    sqlite_only: [check_concurrent_reservations_never_oversell],
);

#[tokio::test]
async fn unknown_schemes_are_refused_with_the_supported_list() {
    let err = connect("postgres://x", MongoOptions::default())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("unsupported DATABASE_URL scheme"));
    assert!(err.to_string().contains("mongodb://"));
}

#[tokio::test]
async fn a_mongodb_url_opens_its_own_database_and_survives_reconnecting() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    let store = connect(&db.url, MongoOptions::default()).await.unwrap();
    store.ping().await.unwrap();
    let p = store.create(new_product("K-1", 100, 1)).await.unwrap();
    let reopened = connect(&db.url, MongoOptions::default()).await.unwrap();
    assert_eq!(reopened.get(&p.id).await.unwrap().unwrap(), p);
    let err = reopened.create(new_product("K-1", 1, 1)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "indexes are idempotent: {err:?}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_mongodb_opens_but_every_call_is_unavailable_quickly() {
    let opts = MongoOptions {
        pool_size: 1,
        server_selection_timeout: std::time::Duration::from_millis(300),
    };
    let started = std::time::Instant::now();
    let store = connect("mongodb://127.0.0.1:1/x", opts).await.unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store.create(new_product("Z-1", 1, 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store
        .reserve(
            "0000000000000000000000f1",
            &[line("aaaaaaaaaaaaaaaaaaaaaaaa", 1)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReserveError::Store(StoreError::Unavailable(_))),
        "{err:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}
