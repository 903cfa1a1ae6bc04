//! Contract checks of a payment's lifecycle: conditional claims, retries after failure,
//! refunds, recovery of in-flight work, stale take-overs, and racing claims.

use super::*;

pub async fn check_claims_are_conditional(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Pending);
    store.insert(&p).await.unwrap();
    assert_eq!(store.due_work(10, 0).await.unwrap().len(), 1);
    let claimed = store.claim_pending(&p.id).await.unwrap().unwrap();
    assert_eq!(claimed.status, PaymentStatus::Processing);
    assert!(store.claim_pending(&p.id).await.unwrap().is_none());
    assert!(store.due_work(10, 0).await.unwrap().is_empty());
    let done = store
        .settle(
            &p.id,
            Outcome::Charged {
                transaction_id: "txn_9",
            },
            &event("PaymentProcessed"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Completed);
    assert_eq!(done.transaction_id.as_deref(), Some("txn_9"));
    assert!(store
        .settle(
            &p.id,
            Outcome::Failed { reason: "late" },
            &event("PaymentFailed")
        )
        .await
        .unwrap()
        .is_none());
    assert!(store
        .settle(
            &p.id,
            Outcome::Charged {
                transaction_id: "txn_x"
            },
            &event("PaymentProcessed")
        )
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.outbox().pending().await.unwrap(), 1);
}

pub async fn check_a_failed_payment_is_claimed_again_with_a_new_attempt(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Processing);
    store.insert(&p).await.unwrap();
    let failed = store
        .settle(
            &p.id,
            Outcome::Failed { reason: "declined" },
            &event("PaymentFailed"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.failure_reason.as_deref(), Some("declined"));
    let again = store.claim_failed(&p.id).await.unwrap().unwrap();
    assert_ne!(again.charge_key(), failed.charge_key());
    assert_eq!((again.attempt, again.failure_reason), (1, None));
    assert!(store.claim_failed(&p.id).await.unwrap().is_none());
}

pub async fn check_refund_happens_once(store: &dyn PaymentStore) {
    let p = completed(store).await;
    let taken = store.begin_refund(&p.id).await.unwrap().unwrap();
    assert_eq!(taken.status, PaymentStatus::Refunding);
    assert!(store.begin_refund(&p.id).await.unwrap().is_none());
    let done = store
        .settle(
            &p.id,
            Outcome::Refunded {
                refund_cents: 2_599,
            },
            &event("PaymentRefunded"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Refunded);
    assert_eq!(done.refund_cents, Some(2_599));
    assert!(done.refunded_at.is_some());
    assert!(store
        .settle(
            &p.id,
            Outcome::Refunded { refund_cents: 1 },
            &event("PaymentRefunded")
        )
        .await
        .unwrap()
        .is_none());
    assert!(store.begin_refund(&p.id).await.unwrap().is_none());
    assert_eq!(store.outbox().pending().await.unwrap(), 2);
}

pub async fn check_an_aborted_refund_returns_to_completed(store: &dyn PaymentStore) {
    let p = completed(store).await;
    store.begin_refund(&p.id).await.unwrap().unwrap();
    store.abort_refund(&p.id).await.unwrap();
    let now = store.get(&p.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::Completed);
}

pub async fn check_given_back_work_is_due_again_at_once(store: &dyn PaymentStore) {
    let charging = payment(PaymentStatus::Processing);
    store.insert(&charging).await.unwrap();
    let refunding = completed(store).await;
    store.begin_refund(&refunding.id).await.unwrap().unwrap();
    let other = payment(PaymentStatus::Processing);
    store.insert(&other).await.unwrap();
    let done = completed(store).await;
    // In flight, not stale: no worker may take them.
    let stale_before = shared::store::now_ms() - 60_000;
    assert!(store.due_work(10, stale_before).await.unwrap().is_empty());
    let ids = [charging.id.clone(), refunding.id.clone(), done.id.clone()];
    store.give_back(&ids).await.unwrap();
    let status = |id: &str| {
        let id = id.to_owned();
        async move { store.get(&id).await.unwrap().unwrap() }
    };
    assert_eq!(status(&charging.id).await.status, PaymentStatus::Pending);
    let back = status(&refunding.id).await;
    assert_eq!(back.status, PaymentStatus::Completed);
    assert!(back.refund_requested, "the refund is still wanted");
    assert_eq!(status(&done.id).await, done, "not in flight: left alone");
    assert_eq!(status(&other.id).await.status, PaymentStatus::Processing);
    let mut due: Vec<_> = store
        .due_work(10, stale_before)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    due.sort();
    let mut want = vec![charging.id.clone(), refunding.id.clone()];
    want.sort();
    assert_eq!(due, want);
    store.ping().await.unwrap();
}

pub async fn check_stale_in_flight_work_is_listed_and_taken_over_once(store: &dyn PaymentStore) {
    let now = shared::store::now_ms();
    let mut p = payment(PaymentStatus::Processing);
    p.updated_at = now - 60_000;
    store.insert(&p).await.unwrap();
    assert!(store.due_work(10, now - 90_000).await.unwrap().is_empty());
    assert!(store
        .claim_stale(&p.id, now - 90_000)
        .await
        .unwrap()
        .is_none());
    let stale_before = now - 30_000;
    let due = store.due_work(10, stale_before).await.unwrap();
    assert_eq!(due.iter().map(|d| &d.id).collect::<Vec<_>>(), vec![&p.id]);
    let taken = store
        .claim_stale(&p.id, stale_before)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.status, PaymentStatus::Processing);
    assert!(taken.updated_at >= now);
    assert!(store
        .claim_stale(&p.id, stale_before)
        .await
        .unwrap()
        .is_none());
    assert!(store.due_work(10, stale_before).await.unwrap().is_empty());
}

/// Many claims of one pending payment at once: exactly one wins.
pub async fn check_concurrent_claims_have_one_winner(store: std::sync::Arc<dyn PaymentStore>) {
    let store = &*store;
    let p = payment(PaymentStatus::Pending);
    store.insert(&p).await.unwrap();
    let claims = (0..8).map(|_| store.claim_pending(&p.id));
    let won = futures_util::future::join_all(claims)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_some())
        .count();
    assert_eq!(won, 1);
}
