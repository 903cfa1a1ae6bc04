//! The `EventStore` contract: every check runs against SQLite, and against MongoDB when
//! `MONGO_TEST_URL` is set (a fresh database per test, dropped after).
#![allow(clippy::unwrap_used)]

use event_bus::domain::DeliveryStatus;
use event_bus::store::{EventStore, StoreError};
use serde_json::json;
use shared::events::EventEnvelope;
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

const NOW: i64 = 1_700_000_000_000;

fn subs() -> Vec<String> {
    vec!["orders".to_string(), "payments".to_string()]
}

fn event(id: &str, ty: &str) -> EventEnvelope {
    EventEnvelope {
        id: id.to_string(),
        event_type: ty.to_string(),
        data: json!({"orderId": id}),
        occurred_at: "2026-11-25T10:00:00.000Z".to_string(),
        source: "order-service".to_string(),
    }
}

async fn check_append_is_idempotent_by_id(store: &dyn EventStore) {
    let first = store
        .append(&[event("e1", "A"), event("e2", "B")], &subs(), NOW)
        .await
        .unwrap();
    assert_eq!(first, ["e1", "e2"]);
    let again = store
        .append(
            &[event("e2", "B"), event("e3", "A"), event("e3", "A")],
            &subs(),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(again, ["e3"]);
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending, c.dead), (3, 6, 0));
}

async fn check_due_deliveries_are_per_subscriber_in_arrival_order(store: &dyn EventStore) {
    store
        .append(&[event("b", "A"), event("a", "A")], &subs(), NOW)
        .await
        .unwrap();
    store
        .append(&[event("c", "A")], &["orders".to_string()], NOW)
        .await
        .unwrap();
    let due = store.due("orders", NOW, 10).await.unwrap();
    let ids: Vec<_> = due.iter().map(|d| d.envelope.id.as_str()).collect();
    assert_eq!(ids, ["b", "a", "c"]);
    assert_eq!(due[0].envelope, event("b", "A"));
    assert_eq!(store.due("payments", NOW, 10).await.unwrap().len(), 2);
    assert_eq!(store.due("orders", NOW, 1).await.unwrap().len(), 1);
    assert!(store.due("orders", NOW - 1, 10).await.unwrap().is_empty());
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(NOW));
    assert_eq!(store.next_due_at("nobody").await.unwrap(), None);
}

async fn check_delivered_and_failed_deliveries_change_state(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A"), event("e2", "A")], &subs(), NOW)
        .await
        .unwrap();
    store.mark_delivered("e1", "orders", NOW + 5).await.unwrap();
    store
        .mark_failed(
            "e2",
            "orders",
            "subscriber answered 500",
            10,
            NOW + 1000,
            NOW + 5,
        )
        .await
        .unwrap();
    assert!(store.due("orders", NOW + 999, 10).await.unwrap().is_empty());
    let due = store.due("orders", NOW + 1000, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].envelope.id.as_str(), due[0].attempts), ("e2", 1));
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(NOW + 1000));
    let events = store.recent(None, 10).await.unwrap();
    let e1 = events.iter().find(|e| e.envelope.id == "e1").unwrap();
    let d = e1
        .deliveries
        .iter()
        .find(|d| d.subscriber == "orders")
        .unwrap();
    assert_eq!(
        (d.status, d.attempts, d.delivered_at),
        (DeliveryStatus::Delivered, 1, Some(NOW + 5))
    );
    let e2 = events.iter().find(|e| e.envelope.id == "e2").unwrap();
    let d = e2
        .deliveries
        .iter()
        .find(|d| d.subscriber == "orders")
        .unwrap();
    assert_eq!(d.status, DeliveryStatus::Pending);
    assert_eq!(d.last_error.as_deref(), Some("subscriber answered 500"));
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending, c.dead), (2, 3, 0));
}

async fn check_dead_deliveries_are_listed_with_their_event(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    store
        .mark_failed("e1", "payments", "timeout", 1, NOW + 99, NOW + 7)
        .await
        .unwrap();
    assert!(store
        .due("payments", NOW + 10_000, 10)
        .await
        .unwrap()
        .is_empty());
    let dead = store.dead(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery.subscriber, "payments");
    assert_eq!(dead[0].delivery.status, DeliveryStatus::Dead);
    assert_eq!(dead[0].delivery.attempts, 1);
    assert_eq!(dead[0].delivery.last_error.as_deref(), Some("timeout"));
    assert_eq!(dead[0].event.envelope, event("e1", "A"));
    let c = store.counts().await.unwrap();
    assert_eq!((c.pending, c.dead), (1, 1));
    // A dead delivery no longer takes state changes from a worker.
    store
        .mark_delivered("e1", "payments", NOW + 8)
        .await
        .unwrap();
    assert_eq!(store.dead(10).await.unwrap().len(), 1);
}

async fn check_failures_go_dead_when_stored_attempts_reach_the_maximum(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    let first = store
        .mark_failed("e1", "orders", "500", 2, NOW + 10, NOW)
        .await
        .unwrap();
    assert_eq!(first, Some(DeliveryStatus::Pending));
    let second = store
        .mark_failed("e1", "orders", "500", 2, NOW + 20, NOW + 10)
        .await
        .unwrap();
    assert_eq!(second, Some(DeliveryStatus::Dead));
    // No longer pending: a late failure or success changes nothing.
    let late = store
        .mark_failed("e1", "orders", "late", 2, NOW + 30, NOW + 20)
        .await
        .unwrap();
    assert_eq!(late, None);
    let dead = store.dead(10).await.unwrap();
    assert_eq!(dead[0].delivery.attempts, 2);
    assert_eq!(dead[0].delivery.last_error.as_deref(), Some("500"));
    // After a replay the count starts again, so one more failure does not dead-letter it.
    store.replay("e1", &subs(), NOW + 30).await.unwrap();
    let after = store
        .mark_failed("e1", "orders", "500", 2, NOW + 40, NOW + 30)
        .await
        .unwrap();
    assert_eq!(after, Some(DeliveryStatus::Pending));
}

async fn check_replay_requeues_every_delivery_and_adds_new_subscribers(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    store.mark_delivered("e1", "orders", NOW).await.unwrap();
    store
        .mark_failed("e1", "payments", "boom", 1, NOW, NOW)
        .await
        .unwrap();
    let mut now_subs = subs();
    now_subs.push("audit".to_string());
    let queued = store.replay("e1", &now_subs, NOW + 50).await.unwrap();
    assert_eq!(queued, 3);
    for sub in ["orders", "payments", "audit"] {
        let due = store.due(sub, NOW + 50, 10).await.unwrap();
        assert_eq!(due.len(), 1, "{sub}");
        assert_eq!(due[0].attempts, 0);
    }
    let c = store.counts().await.unwrap();
    assert_eq!((c.pending, c.dead), (3, 0));
    let err = store.replay("missing", &subs(), NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
}

async fn check_recent_is_newest_first_filtered_and_limited(store: &dyn EventStore) {
    for (id, ty) in [("e1", "A"), ("e2", "B"), ("e3", "A"), ("e4", "A")] {
        store.append(&[event(id, ty)], &subs(), NOW).await.unwrap();
    }
    let ids = |v: Vec<event_bus::domain::StoredEvent>| -> Vec<String> {
        v.into_iter().map(|e| e.envelope.id).collect()
    };
    assert_eq!(
        ids(store.recent(None, 10).await.unwrap()),
        ["e4", "e3", "e2", "e1"]
    );
    assert_eq!(ids(store.recent(Some("A"), 2).await.unwrap()), ["e4", "e3"]);
    assert_eq!(ids(store.recent(Some("B"), 10).await.unwrap()), ["e2"]);
    assert!(store.recent(Some("C"), 10).await.unwrap().is_empty());
    let first = &store.recent(None, 1).await.unwrap()[0];
    assert_eq!(first.received_at, NOW);
    let names: Vec<_> = first
        .deliveries
        .iter()
        .map(|d| d.subscriber.as_str())
        .collect();
    assert_eq!(names, ["orders", "payments"]);
}

async fn check_counts_start_at_zero_and_ping_answers(store: &dyn EventStore) {
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending, c.dead), (0, 0, 0));
    store.ping().await.unwrap();
}

async fn check_odd_event_ids_and_subscriber_names_stay_apart(store: &dyn EventStore) {
    // Pairs that a naive "<event>/<subscriber>" key would merge.
    store
        .append(&[event("a/b", "A")], &["c".to_string()], NOW)
        .await
        .unwrap();
    store
        .append(&[event("a", "A")], &["b/c".to_string()], NOW)
        .await
        .unwrap();
    store.mark_delivered("a/b", "c", NOW + 1).await.unwrap();
    let due = store.due("b/c", NOW, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].envelope.id, "a");
    assert!(store.due("c", NOW, 10).await.unwrap().is_empty());
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (2, 1));
}

async fn check_event_data_round_trips_exactly(store: &dyn EventStore) {
    let mut e = event("e1", "A");
    e.data =
        json!({"big": u64::MAX, "neg": -3, "f": 1.5, "nested": {"z": [1, "x", null], "a": true}});
    store.append(&[e.clone()], &subs(), NOW).await.unwrap();
    let due = store.due("orders", NOW, 1).await.unwrap();
    assert_eq!(due[0].envelope, e);
    assert_eq!(store.recent(None, 1).await.unwrap()[0].envelope, e);
}

async fn check_an_empty_append_and_no_subscribers_store_nothing_to_deliver(store: &dyn EventStore) {
    assert!(store.append(&[], &subs(), NOW).await.unwrap().is_empty());
    let stored = store.append(&[event("e1", "A")], &[], NOW).await.unwrap();
    assert_eq!(stored, ["e1"]);
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (1, 0));
    assert!(store.recent(None, 10).await.unwrap()[0]
        .deliveries
        .is_empty());
    // A replay with subscribers configured now creates their deliveries.
    assert_eq!(store.replay("e1", &subs(), NOW + 1).await.unwrap(), 2);
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(NOW + 1));
}

async fn check_unknown_deliveries_take_no_state_changes(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    store.mark_delivered("e1", "nobody", NOW).await.unwrap();
    store.mark_delivered("nope", "orders", NOW).await.unwrap();
    let failed = store
        .mark_failed("nope", "orders", "500", 3, NOW + 1, NOW)
        .await
        .unwrap();
    assert_eq!(failed, None);
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending, c.dead), (1, 2, 0));
    assert!(store.recent(None, 1).await.unwrap()[0]
        .deliveries
        .iter()
        .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0));
}

async fn check_dead_is_most_recently_failed_first_then_newest_event_and_limited(
    store: &dyn EventStore,
) {
    store
        .append(
            &[event("e1", "A"), event("e2", "A"), event("e3", "A")],
            &subs(),
            NOW,
        )
        .await
        .unwrap();
    let kill = |id: &'static str, at: i64| async move {
        store
            .mark_failed(id, "orders", "x", 1, at, at)
            .await
            .unwrap()
    };
    assert_eq!(kill("e2", NOW + 30).await, Some(DeliveryStatus::Dead));
    kill("e1", NOW + 10).await;
    kill("e3", NOW + 10).await;
    let ids = |v: Vec<event_bus::domain::DeadDelivery>| -> Vec<String> {
        v.into_iter().map(|d| d.event.envelope.id).collect()
    };
    assert_eq!(ids(store.dead(10).await.unwrap()), ["e2", "e3", "e1"]);
    assert_eq!(ids(store.dead(2).await.unwrap()), ["e2", "e3"]);
    // A replay takes the event out of the dead list.
    store.replay("e2", &subs(), NOW + 40).await.unwrap();
    assert_eq!(ids(store.dead(10).await.unwrap()), ["e3", "e1"]);
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = super::connect("sqlite::memory:").await;
                    super::$check(store.as_ref()).await;
                }
            )*
        }
        mod mongo {
            $(
                #[tokio::test]
                async fn $check() {
                    super::on_mongo(|store, _url| async move {
                        super::$check(store.as_ref()).await
                    })
                    .await;
                }
            )*
        }
    };
}

contract!(
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
    let dir = std::env::temp_dir().join(format!("event-bus-{}", shared::ids::new_object_id()));
    let url = format!("sqlite://{}/events.db", dir.display());
    let store = connect(&url).await;
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    drop(store);
    let reopened = connect(&url).await;
    assert_eq!(reopened.due("orders", NOW, 10).await.unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

// SQLite only: FerretDB (our MongoDB stand-in) does not make conditional updates atomic under
// concurrency, so racing appends could all see the event incomplete and all report it as new there.
#[tokio::test]
async fn concurrent_appends_of_one_id_on_a_file_database_store_it_once() {
    let dir = std::env::temp_dir().join(format!("event-bus-{}", shared::ids::new_object_id()));
    let url = format!("sqlite://{}/events.db", dir.display());
    let store: std::sync::Arc<dyn EventStore> = connect(&url).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let stored = store
                    .append(&[event("same", "A")], &subs(), NOW)
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
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (1, 2));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn mongo_pending_deliveries_survive_a_reconnect() {
    on_mongo(|store, url| async move {
        store
            .append(&[event("e1", "A")], &subs(), NOW)
            .await
            .unwrap();
        drop(store);
        let reopened = connect(&url).await;
        assert_eq!(reopened.due("orders", NOW, 10).await.unwrap().len(), 1);
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
            .append(&[event("half", "A")], &["orders".to_string()], NOW + 5)
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
            .append(&[event("half", "A")], &subs(), NOW + 6)
            .await
            .unwrap();
        assert!(again.is_empty());
        assert_eq!(store.counts().await.unwrap().pending, 2);
    })
    .await;
}
