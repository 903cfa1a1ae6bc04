//! The `PaymentStore` contract: every check runs against SQLite and, when `MONGO_TEST_URL` is set,
//! against MongoDB (a fresh database per test); concurrency races run on SQLite only.
#![allow(clippy::unwrap_used)]

use payment_service::domain::{NewPayment, Payment, PaymentMethod, PaymentStatus};
use payment_service::store::PaymentStore;
use serde_json::json;
use shared::events::EventEnvelope;
use shared::ids::new_object_id;
use shared::store::StoreError;

fn payment(status: PaymentStatus) -> Payment {
    Payment::from_new(
        NewPayment {
            order_id: new_object_id(),
            user_id: new_object_id(),
            amount_cents: 2_599,
            method: PaymentMethod::CreditCard,
        },
        status,
    )
}

fn event(kind: &str) -> EventEnvelope {
    EventEnvelope::new(kind, json!({}), "test")
}

async fn completed(store: &dyn PaymentStore) -> Payment {
    let p = payment(PaymentStatus::Processing);
    store.insert(&p).await.unwrap();
    store
        .complete(&p.id, "txn_1", &event("PaymentProcessed"))
        .await
        .unwrap()
        .unwrap()
}

async fn check_one_payment_per_order(store: &dyn PaymentStore) {
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

async fn check_order_created_events_apply_once(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Pending);
    assert!(store.record_order_created("e1", &p).await.unwrap());
    let mut again = payment(PaymentStatus::Pending);
    again.order_id = new_object_id();
    assert!(!store.record_order_created("e1", &again).await.unwrap());
    assert!(store.get_by_order(&again.order_id).await.unwrap().is_none());
    assert!(store.mark_event_processed("e2").await.unwrap());
    assert!(!store.mark_event_processed("e2").await.unwrap());
}

async fn check_claims_are_conditional(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Pending);
    store.insert(&p).await.unwrap();
    assert_eq!(store.due_work(10, 0).await.unwrap().len(), 1);
    let claimed = store.claim_pending(&p.id).await.unwrap().unwrap();
    assert_eq!(claimed.status, PaymentStatus::Processing);
    assert!(store.claim_pending(&p.id).await.unwrap().is_none());
    assert!(store.due_work(10, 0).await.unwrap().is_empty());
    let done = store
        .complete(&p.id, "txn_9", &event("PaymentProcessed"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Completed);
    assert_eq!(done.transaction_id.as_deref(), Some("txn_9"));
    assert!(store
        .fail(&p.id, "late", &event("PaymentFailed"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .complete(&p.id, "txn_x", &event("PaymentProcessed"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.outbox().pending().await.unwrap(), 1);
}

async fn check_a_failed_payment_is_claimed_again_with_a_new_attempt(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Processing);
    store.insert(&p).await.unwrap();
    let failed = store
        .fail(&p.id, "declined", &event("PaymentFailed"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failed.failure_reason.as_deref(), Some("declined"));
    let again = store.claim_failed(&p.id).await.unwrap().unwrap();
    assert_ne!(again.charge_key(), failed.charge_key());
    assert_eq!((again.attempt, again.failure_reason), (1, None));
    assert!(store.claim_failed(&p.id).await.unwrap().is_none());
}

async fn check_refund_happens_once(store: &dyn PaymentStore) {
    let p = completed(store).await;
    let taken = store.begin_refund(&p.id).await.unwrap().unwrap();
    assert_eq!(taken.status, PaymentStatus::Refunding);
    assert!(store.begin_refund(&p.id).await.unwrap().is_none());
    let done = store
        .finish_refund(&p.id, 2_599, &event("PaymentRefunded"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, PaymentStatus::Refunded);
    assert_eq!(done.refund_cents, Some(2_599));
    assert!(done.refunded_at.is_some());
    assert!(store
        .finish_refund(&p.id, 1, &event("PaymentRefunded"))
        .await
        .unwrap()
        .is_none());
    assert!(store.begin_refund(&p.id).await.unwrap().is_none());
    assert_eq!(store.outbox().pending().await.unwrap(), 2);
}

async fn check_an_aborted_refund_returns_to_completed(store: &dyn PaymentStore) {
    let p = completed(store).await;
    store.begin_refund(&p.id).await.unwrap().unwrap();
    store.abort_refund(&p.id).await.unwrap();
    let now = store.get(&p.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::Completed);
}

async fn check_order_cancelled_cancels_pending_and_flags_completed(store: &dyn PaymentStore) {
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

async fn check_recovery_requeues_processing_and_returns_refunding(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Processing);
    store.insert(&p).await.unwrap();
    let r = completed(store).await;
    store.begin_refund(&r.id).await.unwrap().unwrap();
    let refunding = store.recover().await.unwrap();
    assert_eq!(
        refunding.iter().map(|p| &p.id).collect::<Vec<_>>(),
        vec![&r.id]
    );
    let now = store.get(&p.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::Pending);
    store.ping().await.unwrap();
}

async fn check_a_cancellation_seen_before_the_order_keeps_it_from_being_charged(
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

async fn check_stale_in_flight_work_is_listed_and_taken_over_once(store: &dyn PaymentStore) {
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

async fn check_the_outbox_hands_out_events_until_acknowledged(store: &dyn PaymentStore) {
    let outbox = store.outbox();
    assert!(outbox.due(10).await.unwrap().is_empty());
    let first = event("PaymentProcessed");
    let second = event("PaymentFailed");
    let a = payment(PaymentStatus::Processing);
    store.insert(&a).await.unwrap();
    store
        .complete(&a.id, "txn_a", &first)
        .await
        .unwrap()
        .unwrap();
    let b = payment(PaymentStatus::Processing);
    store.insert(&b).await.unwrap();
    store
        .fail(&b.id, "declined", &second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outbox.pending().await.unwrap(), 2);
    let due = outbox.due(10).await.unwrap();
    assert_eq!(due, vec![first.clone(), second.clone()]);
    assert_eq!(outbox.due(1).await.unwrap(), vec![first.clone()]);
    outbox
        .failed(
            std::slice::from_ref(&first.id),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(outbox.due(10).await.unwrap(), vec![second.clone()]);
    outbox
        .delivered(std::slice::from_ref(&second.id))
        .await
        .unwrap();
    assert!(outbox.due(10).await.unwrap().is_empty());
    assert_eq!(outbox.pending().await.unwrap(), 1);
    // A transition that did not apply writes no event.
    assert!(store
        .complete(&a.id, "txn_again", &event("PaymentProcessed"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(outbox.pending().await.unwrap(), 1);
}

async fn check_a_cancelled_order_with_a_failed_payment_is_not_retried(store: &dyn PaymentStore) {
    let p = payment(PaymentStatus::Processing);
    store.insert(&p).await.unwrap();
    store
        .fail(&p.id, "declined", &event("PaymentFailed"))
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

async fn check_all_fields_survive_a_round_trip(store: &dyn PaymentStore) {
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

async fn check_an_order_created_replayed_after_its_payment_was_stored_is_only_marked(
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

/// Many claims of one pending payment at once: exactly one wins.
async fn check_concurrent_claims_have_one_winner(store: std::sync::Arc<dyn PaymentStore>) {
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

async fn connect(url: &str) -> std::sync::Arc<dyn PaymentStore> {
    payment_service::store::connect(url).await.unwrap()
}

test_support::store_contract!(
    connect: connect,
    checks: [
    check_one_payment_per_order,
    check_order_created_events_apply_once,
    check_claims_are_conditional,
    check_a_failed_payment_is_claimed_again_with_a_new_attempt,
    check_refund_happens_once,
    check_an_aborted_refund_returns_to_completed,
    check_order_cancelled_cancels_pending_and_flags_completed,
    check_recovery_requeues_processing_and_returns_refunding,
    check_a_cancellation_seen_before_the_order_keeps_it_from_being_charged,
    check_stale_in_flight_work_is_listed_and_taken_over_once,
    check_the_outbox_hands_out_events_until_acknowledged,
    check_a_cancelled_order_with_a_failed_payment_is_not_retried,
    check_all_fields_survive_a_round_trip,
    check_an_order_created_replayed_after_its_payment_was_stored_is_only_marked,
    ],
    sqlite_only: [check_concurrent_claims_have_one_winner],
);

#[tokio::test]
async fn connect_picks_the_backend_by_scheme_and_lists_the_supported_ones() {
    let err = payment_service::store::connect("postgres://x")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("mongodb://"), "{err}");
    // MongoDB connects lazily: an unreachable server fails the first call, quickly, as unavailable.
    let opts = shared::mongo::MongoOptions {
        pool_size: 2,
        server_selection_timeout: std::time::Duration::from_millis(300),
    };
    let started = std::time::Instant::now();
    let store = payment_service::store::connect_with("mongodb://127.0.0.1:1/x", opts)
        .await
        .unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let err = store
        .insert(&payment(PaymentStatus::Pending))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn mongo_data_lives_in_the_url_database_and_survives_reconnecting() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    let store = payment_service::store::connect(&db.url).await.unwrap();
    let p = payment(PaymentStatus::Pending);
    store.insert(&p).await.unwrap();
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let raw = client
        .database(&db.name)
        .collection::<mongodb::bson::Document>("payments")
        .find_one(mongodb::bson::doc! {"_id": &p.id})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw.get_i64("amountCents").unwrap(), p.amount_cents);
    assert_eq!(raw.get_i64("createdAt").unwrap(), p.created_at);
    // Connecting again re-creates the indexes idempotently; the unique order index still holds.
    let again = payment_service::store::connect(&db.url).await.unwrap();
    assert_eq!(again.get(&p.id).await.unwrap().unwrap(), p);
    let mut twin = payment(PaymentStatus::Pending);
    twin.order_id = p.order_id.clone();
    let err = again.insert(&twin).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn mongo_holds_left_by_a_crash_are_released_or_discarded_once_old() {
    use mongodb::bson::{doc, Document};
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    let store = payment_service::store::connect(&db.url).await.unwrap();
    let raw = mongodb::Client::with_uri_str(&db.url)
        .await
        .unwrap()
        .database(&db.name);
    let outbox_coll = raw.collection::<Document>("outbox");
    let hold = |payment_id: &str, e: &EventEnvelope, created_at: i64| {
        doc! {
            "_id": &e.id,
            "paymentId": payment_id,
            "event": serde_json::to_string(e).unwrap(),
            "createdAt": created_at,
            "attempts": 0_i64,
            "nextAttemptAt": 0_i64,
            "held": true,
        }
    };
    let p = payment(PaymentStatus::Processing);
    store.insert(&p).await.unwrap();
    // Crash after the change applied, before the release: the payment records the event id.
    let applied = event("PaymentProcessed");
    outbox_coll
        .insert_one(hold(&p.id, &applied, 1))
        .await
        .unwrap();
    raw.collection::<Document>("payments")
        .update_one(
            doc! {"_id": &p.id},
            doc! {"$set": {"status": "completed"}, "$push": {"eventIds": &applied.id}},
        )
        .await
        .unwrap();
    // Crash before the change applied: nothing records the event.
    let never = event("PaymentFailed");
    outbox_coll
        .insert_one(hold(&p.id, &never, 1))
        .await
        .unwrap();
    // A change still in flight: too young to settle.
    let in_flight = event("PaymentRefunded");
    let now = shared::store::now_ms();
    outbox_coll
        .insert_one(hold(&p.id, &in_flight, now))
        .await
        .unwrap();

    let outbox = store.outbox();
    assert_eq!(outbox.pending().await.unwrap(), 0);
    assert_eq!(outbox.due(10).await.unwrap(), vec![applied.clone()]);
    assert_eq!(outbox.pending().await.unwrap(), 1);
    let left: Vec<String> = {
        use futures_util::TryStreamExt;
        outbox_coll
            .find(doc! {})
            .await
            .unwrap()
            .try_collect::<Vec<Document>>()
            .await
            .unwrap()
            .iter()
            .map(|d| d.get_str("_id").unwrap().to_string())
            .collect()
    };
    assert!(!left.contains(&never.id), "{left:?}");
    assert!(left.contains(&in_flight.id), "{left:?}");
    outbox
        .delivered(std::slice::from_ref(&applied.id))
        .await
        .unwrap();
    assert!(outbox.due(10).await.unwrap().is_empty());
    assert_eq!(outbox.pending().await.unwrap(), 0);
    db.cleanup().await;
}
