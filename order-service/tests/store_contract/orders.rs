//! Contract checks of creating and reading orders: read-back with the created event,
//! per-user idempotency keys, filtered and paged listing.

use super::*;
use order_service::store::{IdempotencyKey, OrderFilter};
use shared::store::{PageRequest, StoreError};

pub async fn check_created_orders_read_back_with_their_event(store: &dyn OrderStore) {
    let o = order(&new_object_id(), 1_000);
    insert(store, &o).await;
    assert_eq!(store.get(&o.id).await.unwrap(), Some(o.clone()));
    assert_eq!(store.get(&new_object_id()).await.unwrap(), None);
    let due = store.outbox().claim(10, Duration::ZERO).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].data["orderId"], json!(o.id));
    assert_eq!(due[0].data["totalAmount"], json!(39.98));
    assert_eq!(store.outbox().pending().await.unwrap(), 1);
}

pub async fn check_idempotency_keys_are_unique_per_user(store: &dyn OrderStore) {
    let user = new_object_id();
    let key = IdempotencyKey {
        key: "k-1".into(),
        fingerprint: "f1".into(),
    };
    let first = order(&user, 1);
    let ev = |o: &Order| {
        EventEnvelope::new(
            types::ORDER_CREATED,
            order_service::app::events::created(o),
            "t",
        )
    };
    store.create(&first, Some(&key), &ev(&first)).await.unwrap();
    let second = order(&user, 2);
    let err = store.create(&second, Some(&key), &ev(&second)).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(store.get(&second.id).await.unwrap(), None);
    assert_eq!(
        store.outbox().pending().await.unwrap(),
        1,
        "no event for the refused order"
    );
    let other = order(&new_object_id(), 3);
    store.create(&other, Some(&key), &ev(&other)).await.unwrap();
    let (found, fingerprint) = store.find_by_key(&user, "k-1").await.unwrap().unwrap();
    assert_eq!((found.id, fingerprint.as_str()), (first.id, "f1"));
    assert!(store.find_by_key(&user, "k-2").await.unwrap().is_none());
}

pub async fn check_lists_filter_page_and_put_newest_first(store: &dyn OrderStore) {
    let (alice, bob) = (new_object_id(), new_object_id());
    for t in 1..=3 {
        insert(store, &order(&alice, t * 10)).await;
    }
    let bobs = order(&bob, 100);
    insert(store, &bobs).await;
    let mine = OrderFilter {
        user_id: Some(alice.clone()),
        status: None,
    };
    let (page, total) = store
        .list(&mine, PageRequest { page: 1, limit: 2 })
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        page.iter().map(|o| o.created_at).collect::<Vec<_>>(),
        vec![30, 20]
    );
    let (page2, _) = store
        .list(&mine, PageRequest { page: 2, limit: 2 })
        .await
        .unwrap();
    assert_eq!(page2.len(), 1);
    let (all, total) = store
        .list(&OrderFilter::default(), PageRequest { page: 1, limit: 10 })
        .await
        .unwrap();
    assert_eq!((all[0].id.as_str(), total), (bobs.id.as_str(), 4));
    store
        .cancel(cancel_of(&bobs.id, None, CANCELLABLE), cancellation)
        .await
        .unwrap();
    let cancelled = OrderFilter {
        user_id: None,
        status: Some(OrderStatus::Cancelled),
    };
    let (only, total) = store
        .list(&cancelled, PageRequest { page: 1, limit: 10 })
        .await
        .unwrap();
    assert_eq!((only[0].id.as_str(), total), (bobs.id.as_str(), 1));
}
