//! The `PaymentStore` contract: every check runs against SQLite and, when `MONGO_TEST_URL` is set,
//! against MongoDB (a fresh database per test); concurrency races run on SQLite only.
#![allow(clippy::unwrap_used)]

use payment_service::domain::{NewPayment, Payment, PaymentMethod, PaymentStatus};
use payment_service::store::{Outcome, PaymentStore};
use serde_json::json;
use shared::events::EventEnvelope;
use shared::ids::new_object_id;
use shared::store::StoreError;
use std::time::Duration;

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
        .settle(
            &p.id,
            Outcome::Charged {
                transaction_id: "txn_1",
            },
            &event("PaymentProcessed"),
        )
        .await
        .unwrap()
        .unwrap()
}

mod lifecycle;
mod orders;
mod persistence;

use lifecycle::*;
use orders::*;
use persistence::*;

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
    check_given_back_work_is_due_again_at_once,
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
        server_selection_timeout: Duration::from_millis(300),
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
    assert!(started.elapsed() < Duration::from_secs(3));
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
    assert_eq!(raw.get_i64("amount_cents").unwrap(), p.amount_cents);
    assert_eq!(raw.get_i64("created_at").unwrap(), p.created_at);
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
            "aggregate_id": payment_id,
            "event": serde_json::to_string(e).unwrap(),
            "created_at": created_at,
            "attempts": 0_i64,
            "next_attempt_at": 0_i64,
            "held": &e.id,
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
            doc! {"$set": {"status": "completed"}, "$push": {"event_ids": &applied.id}},
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
    assert_eq!(
        outbox.claim(10, Duration::ZERO).await.unwrap(),
        vec![applied.clone()]
    );
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
    assert!(outbox.claim(10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(outbox.pending().await.unwrap(), 0);
    db.cleanup().await;
}

#[tokio::test]
async fn mongo_data_stored_by_the_camel_case_version_is_upgraded_at_connect() {
    use mongodb::bson::{doc, Document};
    use mongodb::options::IndexOptions;
    use mongodb::IndexModel;
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    let raw = mongodb::Client::with_uri_str(&db.url)
        .await
        .unwrap()
        .database(&db.name);
    let p = payment(PaymentStatus::Completed);
    let processed = event("PaymentProcessed");
    let waiting = event("PaymentRefunded");
    let payments = raw.collection::<Document>("payments");
    payments
        .create_index(
            IndexModel::builder()
                .keys(doc! {"orderId": 1})
                .options(
                    IndexOptions::builder()
                        .name("payments_order_unique".to_string())
                        .unique(true)
                        .build(),
                )
                .build(),
        )
        .await
        .unwrap();
    payments
        .insert_one(doc! {
            "_id": &p.id, "orderId": &p.order_id, "userId": &p.user_id,
            "amountCents": p.amount_cents, "currency": &p.currency, "status": "completed",
            "method": p.method.as_str(), "attempt": p.attempt, "transactionId": null,
            "failureReason": null, "refundCents": null, "refundedAt": null,
            "refundRequested": p.refund_requested, "createdAt": p.created_at,
            "updatedAt": p.updated_at, "eventIds": [&processed.id],
        })
        .await
        .unwrap();
    let outbox = raw.collection::<Document>("outbox");
    // A hold a crash left (the payment records its event), and an event waiting for the bus.
    outbox
        .insert_one(doc! {
            "_id": &processed.id, "paymentId": &p.id,
            "event": serde_json::to_string(&processed).unwrap(), "createdAt": 1_i64,
            "attempts": 0_i64, "nextAttemptAt": 0_i64, "held": true,
        })
        .await
        .unwrap();
    outbox
        .insert_one(doc! {
            "_id": &waiting.id, "paymentId": &p.id,
            "event": serde_json::to_string(&waiting).unwrap(), "createdAt": 2_i64,
            "attempts": 1_i64, "nextAttemptAt": 0_i64,
        })
        .await
        .unwrap();

    let store = payment_service::store::connect(&db.url).await.unwrap();

    assert_eq!(store.get(&p.id).await.unwrap().unwrap(), p);
    assert_eq!(store.get_by_order(&p.order_id).await.unwrap().unwrap(), p);
    assert_eq!(
        store.outbox().claim(10, Duration::ZERO).await.unwrap(),
        vec![processed, waiting]
    );
    let stored = payments
        .find_one(doc! {"_id": &p.id})
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.contains_key("order_id") && !stored.contains_key("orderId"),
        "{stored}"
    );
    // The unique index now covers the new field name.
    let mut twin = payment(PaymentStatus::Pending);
    twin.order_id = p.order_id.clone();
    let err = store.insert(&twin).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Once recorded, the upgrade is not run again.
    let done = raw.collection::<Document>("upgrades");
    assert_eq!(done.count_documents(doc! {}).await.unwrap(), 1);
    payment_service::store::connect(&db.url).await.unwrap();
    assert_eq!(done.count_documents(doc! {}).await.unwrap(), 1);
    db.cleanup().await;
}
