//! Contract checks of what the store keeps: every payment field round-trips, and the outbox
//! hands out events until acknowledged.

use super::*;

pub async fn check_the_outbox_hands_out_events_until_acknowledged(store: &dyn PaymentStore) {
    let outbox = store.outbox();
    assert!(outbox.claim(10, Duration::ZERO).await.unwrap().is_empty());
    let first = event("PaymentProcessed");
    let second = event("PaymentFailed");
    let a = payment(PaymentStatus::Processing);
    store.insert(&a).await.unwrap();
    store
        .settle(
            &a.id,
            Outcome::Charged {
                transaction_id: "txn_a",
            },
            &first,
        )
        .await
        .unwrap()
        .unwrap();
    let b = payment(PaymentStatus::Processing);
    store.insert(&b).await.unwrap();
    store
        .settle(&b.id, Outcome::Failed { reason: "declined" }, &second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outbox.pending().await.unwrap(), 2);
    let due = outbox.claim(10, Duration::ZERO).await.unwrap();
    assert_eq!(due, vec![first.clone(), second.clone()]);
    assert_eq!(
        outbox.claim(1, Duration::ZERO).await.unwrap(),
        vec![first.clone()]
    );
    outbox
        .failed(std::slice::from_ref(&first.id), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        outbox.claim(10, Duration::ZERO).await.unwrap(),
        vec![second.clone()]
    );
    outbox
        .delivered(std::slice::from_ref(&second.id))
        .await
        .unwrap();
    assert!(outbox.claim(10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(outbox.pending().await.unwrap(), 1);
    // A transition that did not apply writes no event.
    assert!(store
        .settle(
            &a.id,
            Outcome::Charged {
                transaction_id: "txn_again"
            },
            &event("PaymentProcessed")
        )
        .await
        .unwrap()
        .is_none());
    assert_eq!(outbox.pending().await.unwrap(), 1);
}

pub async fn check_all_fields_survive_a_round_trip(store: &dyn PaymentStore) {
    let mut p = payment(PaymentStatus::Pending);
    p.method = PaymentMethod::Paypal;
    p.amount_cents = 9_007_199_254_740_993; // beyond f64 precision: must stay an integer
    p.created_at = 1_700_000_000_123;
    p.updated_at = 1_700_000_000_456;
    store.insert(&p).await.unwrap();
    assert_eq!(store.get(&p.id).await.unwrap().unwrap(), p);
    assert_eq!(store.get_by_order(&p.order_id).await.unwrap().unwrap(), p);
    assert!(store.get(&new_object_id()).await.unwrap().is_none());
}
