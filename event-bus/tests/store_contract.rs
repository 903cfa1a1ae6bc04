//! The `EventStore` contract: every check runs against SQLite (and, once it exists, MongoDB).
#![allow(clippy::unwrap_used)]

use event_bus::domain::DeliveryStatus;
use event_bus::store::{EventStore, StoreError};
use serde_json::json;
use shared::events::EventEnvelope;

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

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let store = event_bus::store::connect("sqlite::memory:").await.unwrap();
                    super::$check(store.as_ref()).await;
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
);

#[tokio::test]
async fn connect_refuses_mongodb_for_now_and_unknown_schemes() {
    let err = event_bus::store::connect("mongodb://localhost/x")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("MongoDB support is not built yet"));
    assert!(event_bus::store::connect("postgres://x").await.is_err());
}

#[tokio::test]
async fn a_file_database_keeps_pending_deliveries_across_reconnects() {
    let dir = std::env::temp_dir().join(format!("event-bus-{}", shared::ids::new_object_id()));
    let url = format!("sqlite://{}/events.db", dir.display());
    let store = event_bus::store::connect(&url).await.unwrap();
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    drop(store);
    let reopened = event_bus::store::connect(&url).await.unwrap();
    assert_eq!(reopened.due("orders", NOW, 10).await.unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn concurrent_appends_of_one_id_on_a_file_database_store_it_once() {
    let dir = std::env::temp_dir().join(format!("event-bus-{}", shared::ids::new_object_id()));
    let url = format!("sqlite://{}/events.db", dir.display());
    let store: std::sync::Arc<dyn EventStore> = event_bus::store::connect(&url).await.unwrap();
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
