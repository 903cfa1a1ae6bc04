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
use test_support::TestMongo;

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
        metadata: Some(serde_json::json!({"color": "red"})),
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
    store.get(id).await.unwrap().unwrap().stock
}

async fn check_create_then_get_round_trips(store: &dyn ProductStore) {
    let created = store.create(new_product("A-1", 1999, 5)).await.unwrap();
    assert!(shared::ids::is_object_id(&created.id));
    let read = store.get(&created.id).await.unwrap().unwrap();
    assert_eq!(read, created);
    assert_eq!(read.metadata, Some(serde_json::json!({"color": "red"})));
    assert!(store
        .get("aaaaaaaaaaaaaaaaaaaaaaaa")
        .await
        .unwrap()
        .is_none());
}

async fn check_duplicate_sku_is_a_conflict(store: &dyn ProductStore) {
    store.create(new_product("DUP", 100, 1)).await.unwrap();
    let err = store.create(new_product("DUP", 200, 1)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // SKUs are case-sensitive.
    store.create(new_product("dup", 200, 1)).await.unwrap();
}

async fn check_list_filters_sorts_and_pages(store: &dyn ProductStore) {
    let mut cheap = new_product("L-1", 500, 1);
    cheap.name = "Blue 50% Mug".into();
    cheap.category = "Kitchen".into();
    store.create(cheap).await.unwrap();
    store.create(new_product("L-2", 1500, 1)).await.unwrap();
    store.create(new_product("L-3", 2500, 1)).await.unwrap();
    let hidden = store.create(new_product("L-4", 700, 1)).await.unwrap();
    store
        .update(&hidden.id, ProductPatch::deactivate())
        .await
        .unwrap();

    let (all, total) = store.list(&ProductFilter::default(), PAGE).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(all[0].sku, "L-3", "newest first by default");
    let by_price = ProductFilter {
        sort: SortOrder::PriceAsc,
        ..Default::default()
    };
    let (items, _) = store.list(&by_price, PAGE).await.unwrap();
    let skus: Vec<_> = items.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, ["L-1", "L-2", "L-3"]);
    let range = ProductFilter {
        min_price_cents: Some(1000),
        max_price_cents: Some(2000),
        ..Default::default()
    };
    assert_eq!(store.list(&range, PAGE).await.unwrap().0[0].sku, "L-2");
    let kitchen = ProductFilter {
        category: Some("Kitchen".into()),
        ..Default::default()
    };
    assert_eq!(store.list(&kitchen, PAGE).await.unwrap().1, 1);
    let search = ProductFilter {
        search: Some("blue 50%".into()),
        ..Default::default()
    };
    assert_eq!(store.list(&search, PAGE).await.unwrap().0[0].sku, "L-1");
    let wildcard = ProductFilter {
        search: Some("%".into()),
        ..Default::default()
    };
    assert_eq!(
        store.list(&wildcard, PAGE).await.unwrap().1,
        1,
        "% matches literally"
    );
    let page2 = PageRequest { page: 2, limit: 2 };
    let (items, total) = store.list(&by_price, page2).await.unwrap();
    assert_eq!((items.len(), total, items[0].sku.as_str()), (1, 3, "L-3"));
}

async fn check_update_applies_patch_and_keeps_sku_unique(store: &dyn ProductStore) {
    let a = store.create(new_product("U-1", 100, 1)).await.unwrap();
    store.create(new_product("U-2", 100, 1)).await.unwrap();
    let patch = ProductPatch {
        name: Some("Renamed".into()),
        price_cents: Some(250),
        ..Default::default()
    };
    let updated = store.update(&a.id, patch).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.price_cents),
        ("Renamed", 250)
    );
    assert_eq!(updated.sku, "U-1");
    assert_eq!(updated.images, a.images, "untouched fields are kept");
    let clash = ProductPatch {
        sku: Some("U-2".into()),
        ..Default::default()
    };
    let err = store.update(&a.id, clash).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let missing = store
        .update("aaaaaaaaaaaaaaaaaaaaaaaa", ProductPatch::deactivate())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

async fn check_soft_delete_hides_from_lists_but_keeps_the_record(store: &dyn ProductStore) {
    let p = store.create(new_product("D-1", 100, 1)).await.unwrap();
    let deleted = store
        .update(&p.id, ProductPatch::deactivate())
        .await
        .unwrap();
    assert!(!deleted.is_active);
    assert!(!store.get(&p.id).await.unwrap().unwrap().is_active);
    assert_eq!(
        store.list(&ProductFilter::default(), PAGE).await.unwrap().1,
        0
    );
    assert!(store.get_active_many(&[p.id]).await.unwrap().is_empty());
}

async fn check_bulk_returns_active_products_in_request_order(store: &dyn ProductStore) {
    let a = store.create(new_product("B-1", 100, 1)).await.unwrap();
    let b = store.create(new_product("B-2", 100, 1)).await.unwrap();
    let c = store.create(new_product("B-3", 100, 1)).await.unwrap();
    store
        .update(&b.id, ProductPatch::deactivate())
        .await
        .unwrap();
    let ids = vec![
        c.id.clone(),
        "aaaaaaaaaaaaaaaaaaaaaaaa".into(),
        b.id,
        a.id.clone(),
    ];
    let found = store.get_active_many(&ids).await.unwrap();
    let got: Vec<_> = found.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(got, [c.id.as_str(), a.id.as_str()]);
}

async fn check_reserve_is_all_or_nothing(store: &dyn ProductStore) {
    let a = store.create(new_product("R-1", 1000, 5)).await.unwrap();
    let b = store.create(new_product("R-2", 2000, 1)).await.unwrap();
    let err = store
        .reserve(
            "0000000000000000000000a1",
            &[line(&a.id, 2), line(&b.id, 2)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ReserveError::InsufficientStock(n) if n == "Product R-2"),
        "{err:?}"
    );
    assert_eq!(
        stock_of(store, &a.id).await,
        5,
        "the first line was put back"
    );
    assert_eq!(stock_of(store, &b.id).await, 1);
    assert!(store
        .reservation("0000000000000000000000a1")
        .await
        .unwrap()
        .is_none());
    let err = store
        .reserve(
            "0000000000000000000000a2",
            &[line(&a.id, 1), line("aaaaaaaaaaaaaaaaaaaaaaaa", 1)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ReserveError::ProductNotFound(_)), "{err:?}");
    assert_eq!(stock_of(store, &a.id).await, 5);
    store
        .update(&b.id, ProductPatch::deactivate())
        .await
        .unwrap();
    let err = store
        .reserve("0000000000000000000000a3", &[line(&b.id, 1)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ReserveError::ProductNotFound(_)),
        "inactive: {err:?}"
    );
}

async fn check_reserve_sums_lines_and_is_idempotent(store: &dyn ProductStore) {
    let a = store.create(new_product("I-1", 1250, 10)).await.unwrap();
    let order = "0000000000000000000000b1";
    let first = store
        .reserve(order, &[line(&a.id, 2), line(&a.id, 3)])
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.reservation.items.len(), 1);
    assert_eq!(first.reservation.items[0].quantity, 5);
    assert_eq!(first.reservation.items[0].price_cents, 1250);
    assert_eq!(stock_of(store, &a.id).await, 5);
    let again = store
        .reserve(order, &[line(&a.id, 2), line(&a.id, 3)])
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.reservation, first.reservation);
    assert_eq!(stock_of(store, &a.id).await, 5, "a repeat takes nothing");
}

async fn check_release_puts_stock_back_once(store: &dyn ProductStore) {
    let a = store.create(new_product("X-1", 100, 4)).await.unwrap();
    let order = "0000000000000000000000c1";
    store.reserve(order, &[line(&a.id, 3)]).await.unwrap();
    assert!(store.release(order).await.unwrap());
    assert_eq!(stock_of(store, &a.id).await, 4);
    assert!(!store.release(order).await.unwrap());
    assert_eq!(
        stock_of(store, &a.id).await,
        4,
        "a second release is a no-op"
    );
    let status = store.reservation(order).await.unwrap().unwrap().status;
    assert_eq!(status, ReservationStatus::Released);
    let err = store.reserve(order, &[line(&a.id, 1)]).await.unwrap_err();
    assert!(matches!(err, ReserveError::Released(_)), "{err:?}");
    let err = store.release("0000000000000000000000c2").await.unwrap_err();
    assert!(
        matches!(err, ReserveError::ReservationNotFound(_)),
        "{err:?}"
    );
}

async fn check_concurrent_reservations_never_oversell(store: Arc<dyn ProductStore>) {
    let p = store.create(new_product("C-1", 100, 10)).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = store.clone();
        let id = p.id.clone();
        tasks.spawn(async move {
            let order = format!("{:024x}", 0xd000 + i);
            store.reserve(&order, &[line(&id, 1)]).await
        });
    }
    let mut ok = 0;
    while let Some(res) = tasks.join_next().await {
        match res.unwrap() {
            Ok(_) => ok += 1,
            Err(ReserveError::InsufficientStock(_)) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(stock_of(&*store, &p.id).await, 0);
}

async fn check_name_sort_ignores_case(store: &dyn ProductStore) {
    for (sku, name) in [("N-1", "banana"), ("N-2", "Apple"), ("N-3", "cherry")] {
        let mut p = new_product(sku, 100, 1);
        p.name = name.into();
        store.create(p).await.unwrap();
    }
    let by_name = ProductFilter {
        sort: SortOrder::NameAsc,
        ..Default::default()
    };
    let (items, _) = store.list(&by_name, PAGE).await.unwrap();
    let names: Vec<_> = items.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Apple", "banana", "cherry"]);
    let renamed = ProductPatch {
        name: Some("Zucchini".into()),
        ..Default::default()
    };
    store.update(&items[0].id, renamed).await.unwrap();
    let (items, _) = store.list(&by_name, PAGE).await.unwrap();
    assert_eq!(
        items[2].name, "Zucchini",
        "a rename moves the product in the name sort"
    );
}

async fn check_search_matches_regex_characters_literally(store: &dyn ProductStore) {
    let mut p = new_product("S-1", 100, 1);
    p.name = "Cable (USB-C) 2.0m".into();
    store.create(p).await.unwrap();
    store.create(new_product("S-2", 100, 1)).await.unwrap();
    for (needle, hits) in [("(usb-c) 2.0", 1), ("2.0M", 1), ("c.b", 0), (".*", 0)] {
        let filter = ProductFilter {
            search: Some(needle.into()),
            ..Default::default()
        };
        assert_eq!(store.list(&filter, PAGE).await.unwrap().1, hits, "{needle}");
    }
}

async fn check_a_failed_reservation_leaves_the_order_free_to_reserve(store: &dyn ProductStore) {
    let a = store.create(new_product("F-1", 300, 2)).await.unwrap();
    let order = "0000000000000000000000e1";
    let err = store.reserve(order, &[line(&a.id, 3)]).await.unwrap_err();
    assert!(matches!(err, ReserveError::InsufficientStock(_)), "{err:?}");
    let err = store.release(order).await.unwrap_err();
    assert!(
        matches!(err, ReserveError::ReservationNotFound(_)),
        "{err:?}"
    );
    let ok = store.reserve(order, &[line(&a.id, 2)]).await.unwrap();
    assert!(ok.created);
    assert_eq!(ok.reservation.items[0].name, "Product F-1");
    assert_eq!(stock_of(store, &a.id).await, 0);
    let read = store.reservation(order).await.unwrap().unwrap();
    assert_eq!(read, ok.reservation);
}

async fn check_update_keeps_metadata_and_timestamps_consistent(store: &dyn ProductStore) {
    let mut new = new_product("M-1", 100, 1);
    new.metadata = Some(serde_json::json!({"$odd.key": [1, 2.5, null], "big": u64::MAX}));
    let p = store.create(new).await.unwrap();
    assert_eq!(store.get(&p.id).await.unwrap().unwrap(), p);
    let patch = ProductPatch {
        metadata: Some(serde_json::json!({"size": "XL"})),
        stock: Some(7),
        ..Default::default()
    };
    let updated = store.update(&p.id, patch).await.unwrap();
    assert_eq!(updated.metadata, Some(serde_json::json!({"size": "XL"})));
    assert_eq!((updated.stock, updated.created_at), (7, p.created_at));
    assert!(updated.updated_at >= p.updated_at);
    assert_eq!(store.get(&p.id).await.unwrap().unwrap(), updated);
}

async fn sqlite() -> Arc<dyn ProductStore> {
    connect("sqlite::memory:", MongoOptions::default())
        .await
        .unwrap()
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod sqlite_backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(&*sqlite().await).await;
                }
            )*
        }
        mod mongo_backend {
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(db) = TestMongo::new() else { return };
                    let store = connect(&db.url, MongoOptions::default()).await.unwrap();
                    super::$check(&*store).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

contract!(
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
);

// The oversell race runs on SQLite only: FerretDB (our MongoDB stand-in) does not make a
// conditional update atomic under concurrent writers, so the race would fail there for reasons
// that do not hold on real MongoDB (DESIGN §5).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_reservations_never_oversell() {
    check_concurrent_reservations_never_oversell(sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_concurrent_reservations_never_oversell() {
    let dir = std::env::temp_dir().join(format!("product-store-{}", shared::ids::new_object_id()));
    let url = format!("sqlite://{}/products.db", dir.display());
    check_concurrent_reservations_never_oversell(
        connect(&url, MongoOptions::default()).await.unwrap(),
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

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
    let Some(db) = TestMongo::new() else { return };
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
