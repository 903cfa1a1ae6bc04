//! Contract checks of the order events a payment follows: one payment per order, each
//! `OrderCreated` applied once (replays only marked), and `OrderCancelled` cancelling or flagging.

use super::*;

pub async fn check_one_payment_per_order(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Pending);
    store.insert(&p).await.unwrap();
    let mut twin = payment(PaymentStatus::Pending);
    twin.order_id = p.order_id.clone();
    let err = store.insert(&twin).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(!store.record_order_created("e-other", &twin).await.unwrap());
    assert_eq!(
        store.get_by_order(&p.order_id).await.unwrap().unwrap().id,
        p.id
    );
}

pub async fn check_order_created_events_apply_once(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Pending);
    assert!(store.record_order_created("e1", &p).await.unwrap());
    let mut again = payment(PaymentStatus::Pending);
    again.order_id = new_object_id();
    assert!(!store.record_order_created("e1", &again).await.unwrap());
    assert!(store.get_by_order(&again.order_id).await.unwrap().is_none());
    assert!(store.mark_event_processed("e2").await.unwrap());
    assert!(!store.mark_event_processed("e2").await.unwrap());
}

pub async fn check_order_cancelled_cancels_pending_and_flags_completed(store: &dyn PaymentStore) {
    let pending = payment(PaymentStatus::Pending);
    store.insert(&pending).await.unwrap();
    let after = store
        .record_order_cancelled("c1", &pending.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, PaymentStatus::Cancelled);
    assert!(store.claim_pending(&pending.id).await.unwrap().is_none());
    assert!(store
        .record_order_cancelled("c1", &pending.order_id)
        .await
        .unwrap()
        .is_none());

    let done = completed(store).await;
    let after = store
        .record_order_cancelled("c2", &done.order_id)
        .await
        .unwrap()
        .unwrap();
    assert!(after.refund_requested && after.status == PaymentStatus::Completed);
    let due = store.due_work(10, 0).await.unwrap();
    assert_eq!(
        due.iter().map(|p| &p.id).collect::<Vec<_>>(),
        vec![&done.id]
    );
    assert!(store
        .record_order_cancelled("c3", &new_object_id())
        .await
        .unwrap()
        .is_none());
}

pub async fn check_a_cancellation_seen_before_the_order_keeps_it_from_being_charged(
    store: &dyn PaymentStore,
) {
    let p = payment(PaymentStatus::Pending);
    assert!(store
        .record_order_cancelled("c1", &p.order_id)
        .await
        .unwrap()
        .is_none());
    assert!(store.record_order_created("o1", &p).await.unwrap());
    let stored = store.get_by_order(&p.order_id).await.unwrap().unwrap();
    assert_eq!(stored.status, PaymentStatus::Cancelled);
    assert_eq!(stored.amount_cents, p.amount_cents);
    assert!(store.due_work(10, 0).await.unwrap().is_empty());
    assert!(store.claim_pending(&p.id).await.unwrap().is_none());
}

pub async fn check_a_cancelled_order_with_a_failed_payment_is_not_retried(
    store: &dyn PaymentStore,
) {
    let p = payment(PaymentStatus::Processing);
    store.insert(&p).await.unwrap();
    store
        .settle(
            &p.id,
            Outcome::Failed { reason: "declined" },
            &event("PaymentFailed"),
        )
        .await
        .unwrap()
        .unwrap();
    let after = store
        .record_order_cancelled("c1", &p.order_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, PaymentStatus::Failed);
    assert!(after.refund_requested);
    assert!(store.claim_failed(&p.id).await.unwrap().is_none());
    assert!(store.due_work(10, 0).await.unwrap().is_empty());
}

pub async fn check_an_order_created_replayed_after_its_payment_was_stored_is_only_marked(
    store: &dyn PaymentStore,
) {
    // As if the first delivery stored the payment and then stopped before recording the event.
    let p = payment(PaymentStatus::Pending);
    store.insert(&p).await.unwrap();
    let mut replay = p.clone();
    replay.id = new_object_id();
    assert!(!store
        .record_order_created("e-replay", &replay)
        .await
        .unwrap());
    assert!(!store.mark_event_processed("e-replay").await.unwrap());
    assert_eq!(store.get_by_order(&p.order_id).await.unwrap().unwrap(), p);
    assert!(store.get(&replay.id).await.unwrap().is_none());
}
