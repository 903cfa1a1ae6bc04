//! The `EventStore` contract: every check runs against SQLite, and against MongoDB when
//! `MONGO_TEST_URL` is set (a fresh database per test, dropped after).
#![allow(clippy::unwrap_used)]

mod dead_letters;
mod deliveries;
mod events;
mod fixtures;

use dead_letters::*;
use deliveries::*;
use event_bus::domain::{DeliveryStatus, DueDelivery, Subscription};
use event_bus::store::{Claim, Deliveries, EventStore, NewEvents, StoreError};
use events::*;
use fixtures::*;
use serde_json::json;
use shared::mongo::MongoOptions;
use std::sync::Arc;
use test_support::TestMongo;

async fn connect(url: &str) -> Arc<dyn EventStore> {
    event_bus::store::connect(url, MongoOptions::default())
        .await
        .unwrap()
}

/// Runs `check` on a store in a fresh MongoDB database, dropping it afterwards even when the
/// check fails; does nothing without `MONGO_TEST_URL`.
async fn on_mongo<F, Fut>(check: F)
where
    F: FnOnce(Arc<dyn EventStore>, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(m) = TestMongo::new() else { return };
    let store = connect(&m.url).await;
    let outcome = tokio::spawn(check(store, m.url.clone())).await;
    m.cleanup().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

test_support::store_contract!(
    connect: connect,
    checks: [
    check_append_is_idempotent_by_id,
    check_due_deliveries_are_per_subscriber_in_arrival_order,
    check_delivered_and_failed_deliveries_change_state,
    check_dead_deliveries_are_listed_with_their_event,
    check_failures_go_dead_when_stored_attempts_reach_the_maximum,
    check_replay_requeues_every_delivery_and_adds_new_subscribers,
    check_recent_is_newest_first_filtered_and_limited,
    check_counts_start_at_zero_and_ping_answers,
    check_odd_event_ids_and_subscriber_names_stay_apart,
    check_event_data_round_trips_exactly,
    check_an_empty_append_and_no_subscribers_store_nothing_to_deliver,
    check_unknown_deliveries_take_no_state_changes,
    check_dead_is_most_recently_failed_first_then_newest_event_and_limited,
    check_claims_lease_deliveries_until_settled_or_released,
    check_leased_appends_are_due_when_their_lease_ends,
    check_subscribers_get_deliveries_only_of_the_types_they_want,
    ],
    replicas: [
        check_concurrent_appends_of_one_id_store_it_once,
        check_concurrent_claims_never_share_a_delivery,
    ],
);

#[tokio::test]
async fn connect_picks_the_backend_by_scheme_and_refuses_unknown_ones() {
    let err = event_bus::store::connect("postgres://x", MongoOptions::default())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("mongodb://"), "{err}");
    // The MongoDB driver connects lazily: an unreachable server still yields a store whose
    // calls fail as Unavailable within the selection timeout.
    let opts = MongoOptions {
        pool_size: 2,
        server_selection_timeout: std::time::Duration::from_millis(200),
    };
    let store = event_bus::store::connect("mongodb://127.0.0.1:1/x", opts)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = store.counts().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn a_file_database_keeps_pending_deliveries_across_reconnects() {
    let db = test_support::TempSqlite::new();
    let url = db.url();
    let store = connect(&url).await;
    store
        .append(NewEvents::due_now(&[event("e1", "A")], &subs(), NOW))
        .await
        .unwrap();
    drop(store);
    let reopened = connect(&url).await;
    assert_eq!(peek(reopened.as_ref(), "orders", NOW, 10).await.len(), 1);
}

/// Two replicas (stores on one database), eight appends of one id at once: the event is stored,
/// and reported as newly stored, once. On MongoDB the call whose insert of the event succeeded
/// reports it: a unique insert, atomic on FerretDB too.
async fn check_concurrent_appends_of_one_id_store_it_once(
    first: Arc<dyn EventStore>,
    second: Arc<dyn EventStore>,
) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let stored = store
                    .append(NewEvents::due_now(&[event("same", "A")], &subs(), NOW))
                    .await
                    .unwrap();
                store.replay("same", &subs(), NOW).await.unwrap();
                stored.len()
            })
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        stored += t.await.unwrap();
    }
    assert_eq!(stored, 1);
    let c = first.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (1, 2));
}

/// Two replicas, eight claimers between them, claiming at once: no delivery is claimed twice, and
/// together they claim every one.
async fn check_concurrent_claims_never_share_a_delivery(
    first: Arc<dyn EventStore>,
    second: Arc<dyn EventStore>,
) {
    let events: Vec<_> = (0..200).map(|i| event(&format!("e{i:03}"), "A")).collect();
    first
        .append(NewEvents::due_now(&events, &subs(), NOW))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .claim(Claim {
                            subscriber: "orders",
                            now: NOW,
                            lease_until: NOW + 60_000,
                            limit: 7,
                        })
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|d| d.event_id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (200, 200));
}

// SQLite only: its writes share commits. A write that fails (a replay of an unknown id) answers
// its own error; the appends queued with it are still stored and answered.
#[tokio::test]
async fn a_failing_write_does_not_undo_the_writes_that_shared_its_commit() {
    let store = connect("sqlite::memory:").await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    let id = format!("e{i}");
                    let stored = store
                        .append(NewEvents::due_now(&[event(&id, "A")], &subs(), NOW))
                        .await;
                    assert_eq!(stored.unwrap(), [id]);
                } else {
                    let err = store.replay(&format!("missing{i}"), &subs(), NOW).await;
                    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (20, 40));
}

#[tokio::test]
async fn mongo_pending_deliveries_survive_a_reconnect() {
    on_mongo(|store, url| async move {
        store
            .append(NewEvents::due_now(&[event("e1", "A")], &subs(), NOW))
            .await
            .unwrap();
        drop(store);
        let reopened = connect(&url).await;
        assert_eq!(peek(reopened.as_ref(), "orders", NOW, 10).await.len(), 1);
        // Index creation on an existing database is a no-op, not an error.
        let again = connect(&url).await;
        assert_eq!(again.counts().await.unwrap().total_events, 1);
    })
    .await;
}

#[tokio::test]
async fn mongo_an_append_left_half_done_is_hidden_then_finished_by_the_next_append() {
    on_mongo(|store, url| async move {
        // What an append that failed after storing the event (before its deliveries) leaves.
        let client = mongodb::Client::with_uri_str(&url).await.unwrap();
        let name = shared::mongo::database_in_url(&url).unwrap();
        let events = client
            .database(&name)
            .collection::<mongodb::bson::Document>("events");
        events
            .insert_one(mongodb::bson::doc! {
                "_id": "half", "seq": 0_i64, "type": "A", "data": "{\"orderId\":\"half\"}",
                "occurred_at": "2026-11-25T10:00:00.000Z", "source": "order-service",
                "received_at": NOW, "subscribers": ["orders", "payments"], "complete": false,
            })
            .await
            .unwrap();
        assert_eq!(store.counts().await.unwrap().total_events, 0);
        assert!(store.recent(None, 10).await.unwrap().is_empty());
        assert!(matches!(
            store.replay("half", &subs(), NOW).await,
            Err(StoreError::NotFound)
        ));
        // The publisher retries: the event is completed with the subscribers it was stored for.
        let stored = store
            .append(NewEvents::due_now(
                &[event("half", "A")],
                &[Subscription::all("orders")],
                NOW + 5,
            ))
            .await
            .unwrap();
        assert_eq!(stored, ["half"]);
        let listed = store.recent(None, 10).await.unwrap();
        assert_eq!(listed[0].envelope, event("half", "A"));
        assert_eq!(listed[0].received_at, NOW);
        let names: Vec<_> = listed[0]
            .deliveries
            .iter()
            .map(|d| d.subscriber.as_str())
            .collect();
        assert_eq!(names, ["orders", "payments"]);
        // Complete now: a further append of the id is a duplicate.
        let again = store
            .append(NewEvents::due_now(&[event("half", "A")], &subs(), NOW + 6))
            .await
            .unwrap();
        assert!(again.is_empty());
        assert_eq!(store.counts().await.unwrap().pending, 2);
    })
    .await;
}
