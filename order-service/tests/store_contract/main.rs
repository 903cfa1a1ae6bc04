//! The `OrderStore` contract: every check runs against each backend (SQLite in memory and in a file
//! always; MongoDB when `MONGO_TEST_URL` is set, a fresh database per test).
#![allow(clippy::unwrap_used)]

use order_service::domain::{
    Order, OrderItem, OrderStatus, PaymentChange, PaymentStatus, ShippingAddress, Transition,
};
use order_service::store::{IdempotencyKey, OrderFilter, OrderStore};
use serde_json::json;
use shared::events::{types, EventEnvelope};
use shared::ids::new_object_id;
use shared::mongo::MongoOptions;
use shared::store::{PageRequest, StoreError};
use std::time::Duration;

const CANCELLABLE: &[OrderStatus] = &OrderStatus::CANCELLABLE;

fn order(user: &str, created_at: i64) -> Order {
    let items = vec![OrderItem {
        product_id: new_object_id(),
        name: "Mouse".into(),
        price_cents: 1999,
        quantity: 2,
    }];
    Order {
        id: new_object_id(),
        user_id: user.into(),
        total_cents: Order::total_of(&items),
        items,
        status: OrderStatus::Pending,
        payment_status: PaymentStatus::Pending,
        payment_id: None,
        shipping_address: ShippingAddress {
            street: "1 Main St".into(),
            city: "Pune".into(),
            state: "MH".into(),
            zip_code: "411001".into(),
            country: "India".into(),
        },
        tracking_number: None,
        notes: None,
        created_at,
        updated_at: created_at,
    }
}

async fn insert(store: &dyn OrderStore, o: &Order) {
    let event = EventEnvelope::new(types::ORDER_CREATED, o.created_event(), "test");
    store.create(o, None, &event).await.unwrap();
}

async fn outbox_types(store: &dyn OrderStore) -> Vec<String> {
    let due = store.outbox().due(100).await.unwrap();
    due.into_iter().map(|e| e.event_type).collect()
}

async fn check_created_orders_read_back_with_their_event(store: &dyn OrderStore) {
    let o = order(&new_object_id(), 1_000);
    insert(store, &o).await;
    assert_eq!(store.get(&o.id).await.unwrap(), Some(o.clone()));
    assert_eq!(store.get(&new_object_id()).await.unwrap(), None);
    let due = store.outbox().due(10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].data["orderId"], json!(o.id));
    assert_eq!(due[0].data["totalAmount"], json!(39.98));
    assert_eq!(store.outbox().pending().await.unwrap(), 1);
}

async fn check_idempotency_keys_are_unique_per_user(store: &dyn OrderStore) {
    let user = new_object_id();
    let key = IdempotencyKey {
        key: "k-1".into(),
        fingerprint: "f1".into(),
    };
    let first = order(&user, 1);
    let ev = |o: &Order| EventEnvelope::new(types::ORDER_CREATED, o.created_event(), "t");
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

async fn check_lists_filter_page_and_put_newest_first(store: &dyn OrderStore) {
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
        .cancel(&bobs.id, None, CANCELLABLE, "t")
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

async fn check_cancel_is_conditional_owner_scoped_and_queues_release(store: &dyn OrderStore) {
    let user = new_object_id();
    let o = order(&user, 1);
    insert(store, &o).await;
    let stranger = new_object_id();
    assert_eq!(
        store
            .cancel(&o.id, Some(&stranger), CANCELLABLE, "t")
            .await
            .unwrap(),
        Transition::NotFound
    );
    assert_eq!(
        store
            .cancel(&new_object_id(), None, CANCELLABLE, "t")
            .await
            .unwrap(),
        Transition::NotFound
    );
    let Transition::Applied(done) = store
        .cancel(&o.id, Some(&user), CANCELLABLE, "t")
        .await
        .unwrap()
    else {
        panic!("cancel refused");
    };
    assert_eq!(done.status, OrderStatus::Cancelled);
    assert!(matches!(
        store.cancel(&o.id, None, CANCELLABLE, "t").await.unwrap(),
        Transition::Refused(_)
    ));
    assert_eq!(store.due_releases(10).await.unwrap(), vec![o.id.clone()]);
    let due = store.outbox().due(10).await.unwrap();
    let cancelled = due
        .iter()
        .find(|e| e.event_type == types::ORDER_CANCELLED)
        .unwrap();
    assert_eq!(cancelled.data["paymentStatus"], "pending");
    assert_eq!(cancelled.data["userId"], json!(user));
}

async fn check_advance_moves_only_from_the_expected_status(store: &dyn OrderStore) {
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let refused = store
        .advance(
            &o.id,
            OrderStatus::Confirmed,
            OrderStatus::Processing,
            None,
            "t",
        )
        .await
        .unwrap();
    assert!(matches!(refused, Transition::Refused(ref r) if r.status == OrderStatus::Pending));
    let change = PaymentChange::Processed {
        payment_id: "p1".into(),
    };
    store
        .apply_payment("e1", &o.id, &change, "t")
        .await
        .unwrap();
    let step = |from, to, tracking| store.advance(&o.id, from, to, tracking, "t");
    let Transition::Applied(p) = step(OrderStatus::Confirmed, OrderStatus::Processing, None)
        .await
        .unwrap()
    else {
        panic!("not advanced");
    };
    assert_eq!(p.status, OrderStatus::Processing);
    let Transition::Applied(s) = step(OrderStatus::Processing, OrderStatus::Shipped, Some("TRK1"))
        .await
        .unwrap()
    else {
        panic!("not shipped");
    };
    assert_eq!(s.tracking_number.as_deref(), Some("TRK1"));
    assert!(outbox_types(store)
        .await
        .contains(&types::ORDER_UPDATED.to_string()));
}

/// A confirmed, paid order (the state `PaymentProcessed` leaves).
async fn paid_order(store: &dyn OrderStore) -> Order {
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let change = PaymentChange::Processed {
        payment_id: new_object_id(),
    };
    store
        .apply_payment(&new_object_id(), &o.id, &change, "t")
        .await
        .unwrap();
    store.get(&o.id).await.unwrap().unwrap()
}

async fn check_an_order_whose_payment_is_not_completed_never_advances(store: &dyn OrderStore) {
    let o = paid_order(store).await;
    assert_eq!(o.status, OrderStatus::Confirmed);
    store
        .apply_payment(&new_object_id(), &o.id, &PaymentChange::Refunded, "t")
        .await
        .unwrap();
    let refused = store
        .advance(
            &o.id,
            OrderStatus::Confirmed,
            OrderStatus::Processing,
            None,
            "t",
        )
        .await
        .unwrap();
    let Transition::Refused(now) = refused else {
        panic!("a refunded order advanced: {refused:?}");
    };
    assert_eq!(
        (now.status, now.payment_status),
        (OrderStatus::Confirmed, PaymentStatus::Refunded)
    );
}

async fn check_cancel_applies_only_from_the_given_statuses(store: &dyn OrderStore) {
    let o = paid_order(store).await;
    let step = store
        .advance(
            &o.id,
            OrderStatus::Confirmed,
            OrderStatus::Processing,
            None,
            "t",
        )
        .await
        .unwrap();
    assert!(matches!(step, Transition::Applied(_)), "{step:?}");
    let refused = store.cancel(&o.id, None, CANCELLABLE, "t").await.unwrap();
    assert!(matches!(refused, Transition::Refused(ref r) if r.status == OrderStatus::Processing));
    assert!(store.due_releases(10).await.unwrap().is_empty());
    let unshipped = &OrderStatus::UNSHIPPED;
    let Transition::Applied(done) = store.cancel(&o.id, None, unshipped, "t").await.unwrap() else {
        panic!("a processing order was not cancelled from UNSHIPPED");
    };
    assert_eq!(done.status, OrderStatus::Cancelled);
    assert_eq!(store.due_releases(10).await.unwrap(), vec![o.id.clone()]);
    let shipped = paid_order(store).await;
    for (from, to) in [
        (OrderStatus::Confirmed, OrderStatus::Processing),
        (OrderStatus::Processing, OrderStatus::Shipped),
    ] {
        store
            .advance(&shipped.id, from, to, None, "t")
            .await
            .unwrap();
    }
    assert!(matches!(
        store.cancel(&shipped.id, None, unshipped, "t").await.unwrap(),
        Transition::Refused(ref r) if r.status == OrderStatus::Shipped
    ));
}

async fn check_payment_events_apply_once_per_event_id(store: &dyn OrderStore) {
    let (paid, failing) = (order(&new_object_id(), 1), order(&new_object_id(), 2));
    insert(store, &paid).await;
    insert(store, &failing).await;
    let processed = PaymentChange::Processed {
        payment_id: "pay-1".into(),
    };
    let Some(Transition::Applied(o)) = store
        .apply_payment("ev-1", &paid.id, &processed, "t")
        .await
        .unwrap()
    else {
        panic!("not applied");
    };
    assert_eq!(
        (o.status, o.payment_status),
        (OrderStatus::Confirmed, PaymentStatus::Completed)
    );
    assert_eq!(o.payment_id.as_deref(), Some("pay-1"));
    assert_eq!(
        store
            .apply_payment("ev-1", &paid.id, &processed, "t")
            .await
            .unwrap(),
        None
    );
    let failed = PaymentChange::Failed {
        reason: "Card declined".into(),
    };
    let late = store
        .apply_payment("ev-2", &paid.id, &failed, "t")
        .await
        .unwrap();
    assert!(
        matches!(late, Some(Transition::Refused(_))),
        "a confirmed order does not fail"
    );
    let Some(Transition::Applied(f)) = store
        .apply_payment("ev-3", &failing.id, &failed, "t")
        .await
        .unwrap()
    else {
        panic!("not failed");
    };
    assert_eq!(
        (f.status, f.notes.as_deref()),
        (OrderStatus::Failed, Some("Card declined"))
    );
    assert_eq!(
        store.due_releases(10).await.unwrap(),
        vec![failing.id.clone()]
    );
    let Some(Transition::Applied(r)) = store
        .apply_payment("ev-4", &paid.id, &PaymentChange::Refunded, "t")
        .await
        .unwrap()
    else {
        panic!("not refunded");
    };
    assert_eq!(r.payment_status, PaymentStatus::Refunded);
    let unknown = store
        .apply_payment("ev-5", &new_object_id(), &processed, "t")
        .await
        .unwrap();
    assert_eq!(unknown, Some(Transition::NotFound));
}

async fn check_release_queue_retries_later_and_finishes(store: &dyn OrderStore) {
    let id = new_object_id();
    store.queue_release(&id).await.unwrap();
    store.queue_release(&id).await.unwrap();
    assert_eq!(store.due_releases(10).await.unwrap(), vec![id.clone()]);
    store
        .release_failed(&id, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(store.due_releases(10).await.unwrap().is_empty());
    store.release_failed(&id, Duration::ZERO).await.unwrap();
    assert_eq!(store.due_releases(10).await.unwrap(), vec![id.clone()]);
    store.release_done(&id).await.unwrap();
    assert!(store.due_releases(10).await.unwrap().is_empty());
    store.ping().await.unwrap();
}

async fn check_outbox_delivers_retries_and_counts(store: &dyn OrderStore) {
    let (first, second) = (order(&new_object_id(), 1), order(&new_object_id(), 2));
    insert(store, &first).await;
    insert(store, &second).await;
    let outbox = store.outbox();
    let due = outbox.due(10).await.unwrap();
    let order_ids: Vec<_> = due.iter().map(|e| e.data["orderId"].clone()).collect();
    assert_eq!(
        order_ids,
        vec![json!(first.id), json!(second.id)],
        "oldest first"
    );
    assert_eq!(outbox.due(1).await.unwrap().len(), 1, "limit applies");
    let (a, b) = (due[0].id.clone(), due[1].id.clone());
    outbox
        .failed(std::slice::from_ref(&a), Duration::from_secs(60))
        .await
        .unwrap();
    let later = outbox.due(10).await.unwrap();
    assert_eq!(later.iter().map(|e| &e.id).collect::<Vec<_>>(), vec![&b]);
    assert_eq!(outbox.pending().await.unwrap(), 2);
    outbox.delivered(std::slice::from_ref(&b)).await.unwrap();
    assert_eq!(outbox.pending().await.unwrap(), 1);
    assert!(outbox.due(10).await.unwrap().is_empty());
    outbox
        .failed(std::slice::from_ref(&a), Duration::ZERO)
        .await
        .unwrap();
    let retried = outbox.due(10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0], due[0], "the event comes back unchanged");
}

async fn check_refused_and_unknown_payment_events_are_recorded_once(store: &dyn OrderStore) {
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let refund_first = store
        .apply_payment("r-1", &o.id, &PaymentChange::Refunded, "t")
        .await
        .unwrap();
    assert!(matches!(refund_first, Some(Transition::Applied(_))));
    let again = store
        .apply_payment("r-2", &o.id, &PaymentChange::Refunded, "t")
        .await
        .unwrap();
    assert!(
        matches!(again, Some(Transition::Refused(ref r)) if r.payment_status == PaymentStatus::Refunded)
    );
    let replay = store
        .apply_payment("r-2", &o.id, &PaymentChange::Refunded, "t")
        .await
        .unwrap();
    assert_eq!(replay, None, "a refused event id is recorded too");
    let ghost = new_object_id();
    let change = PaymentChange::Failed { reason: "x".into() };
    assert_eq!(
        store
            .apply_payment("g-1", &ghost, &change, "t")
            .await
            .unwrap(),
        Some(Transition::NotFound)
    );
    assert_eq!(
        store
            .apply_payment("g-1", &ghost, &change, "t")
            .await
            .unwrap(),
        None
    );
    assert!(store.due_releases(10).await.unwrap().is_empty());
    assert_eq!(
        store
            .advance(
                &ghost,
                OrderStatus::Confirmed,
                OrderStatus::Processing,
                None,
                "t"
            )
            .await
            .unwrap(),
        Transition::NotFound
    );
    let updates = outbox_types(store).await;
    assert_eq!(
        updates
            .iter()
            .filter(|t| *t == types::ORDER_UPDATED)
            .count(),
        1,
        "only the applied change emits"
    );
}

async fn check_concurrent_cancels_and_payments_apply_once(store: std::sync::Arc<dyn OrderStore>) {
    let store = &*store;
    let o = order(&new_object_id(), 1);
    insert(store, &o).await;
    let cancels = (0..8).map(|_| store.cancel(&o.id, None, CANCELLABLE, "t"));
    let processed = PaymentChange::Processed {
        payment_id: "p".into(),
    };
    let payments = (0..8).map(|i| {
        let change = processed.clone();
        let id = o.id.clone();
        async move {
            store
                .apply_payment(&format!("ev-{i}"), &id, &change, "t")
                .await
        }
    });
    let (cancels, payments) = tokio::join!(
        futures_util::future::join_all(cancels),
        futures_util::future::join_all(payments)
    );
    assert!(cancels.iter().all(Result::is_ok), "{cancels:?}");
    assert!(payments.iter().all(Result::is_ok), "{payments:?}");
    let applied = cancels
        .into_iter()
        .filter(|r| matches!(r, Ok(Transition::Applied(_))))
        .count();
    assert_eq!(applied, 1, "exactly one cancel applies");
    let paid = payments
        .into_iter()
        .filter(|r| matches!(r, Ok(Some(Transition::Applied(_)))))
        .count();
    assert_eq!(paid, 1, "exactly one payment applies");
    let last = store.get(&o.id).await.unwrap().unwrap();
    assert_eq!(last.status, OrderStatus::Cancelled);
    assert_eq!(last.payment_status, PaymentStatus::Completed);
    assert_eq!(store.due_releases(10).await.unwrap(), vec![o.id.clone()]);
}

async fn connect(url: &str) -> std::sync::Arc<dyn OrderStore> {
    order_service::store::connect(url, MongoOptions::default())
        .await
        .unwrap()
}

test_support::store_contract!(
    connect: connect,
    checks: [
        check_created_orders_read_back_with_their_event,
        check_idempotency_keys_are_unique_per_user,
        check_lists_filter_page_and_put_newest_first,
        check_cancel_is_conditional_owner_scoped_and_queues_release,
        check_advance_moves_only_from_the_expected_status,
        check_an_order_whose_payment_is_not_completed_never_advances,
        check_cancel_applies_only_from_the_given_statuses,
        check_payment_events_apply_once_per_event_id,
        check_release_queue_retries_later_and_finishes,
        check_outbox_delivers_retries_and_counts,
        check_refused_and_unknown_payment_events_are_recorded_once,
    ],
    sqlite_only: [check_concurrent_cancels_and_payments_apply_once],
);

#[tokio::test]
async fn unknown_url_schemes_are_refused_with_the_supported_list() {
    let err = order_service::store::connect("postgres://localhost/x", MongoOptions::default())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("mongodb://"), "{err}");
}
