//! Contract checks of stock reservations: all or nothing, idempotent repeats, release once, and
//! the oversell race (run on SQLite only, see `main.rs`).

use super::*;

pub async fn check_reserve_is_all_or_nothing(store: &dyn ProductStore) {
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

pub async fn check_reserve_sums_lines_and_is_idempotent(store: &dyn ProductStore) {
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

pub async fn check_release_puts_stock_back_once(store: &dyn ProductStore) {
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

pub async fn check_concurrent_reservations_never_oversell(store: Arc<dyn ProductStore>) {
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

pub async fn check_a_failed_reservation_leaves_the_order_free_to_reserve(store: &dyn ProductStore) {
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
