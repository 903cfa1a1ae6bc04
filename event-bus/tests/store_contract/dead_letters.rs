//! Contract checks of dead letters and replay: failures dead-lettered at the attempt limit,
//! the dead list and its order, and replays requeueing every delivery.

use super::*;

pub async fn check_dead_deliveries_are_listed_with_their_event(store: &dyn EventStore) {
    store
        .append(NewEvents::due_now(&[event("e1", "A")], &subs(), NOW))
        .await
        .unwrap();
    store
        .mark_failed(failed("e1", "payments", "timeout", 1, NOW + 99), NOW + 7)
        .await
        .unwrap();
    assert!(peek(store, "payments", NOW + 10_000, 10).await.is_empty());
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
        .mark_delivered(Deliveries::to("payments", &ids(&["e1"])), NOW + 8)
        .await
        .unwrap();
    assert_eq!(store.dead(10).await.unwrap().len(), 1);
}

pub async fn check_failures_go_dead_when_stored_attempts_reach_the_maximum(store: &dyn EventStore) {
    store
        .append(NewEvents::due_now(&[event("e1", "A")], &subs(), NOW))
        .await
        .unwrap();
    let first = store
        .mark_failed(failed("e1", "orders", "500", 2, NOW + 10), NOW)
        .await
        .unwrap();
    assert_eq!(first, Some(DeliveryStatus::Pending));
    let second = store
        .mark_failed(failed("e1", "orders", "500", 2, NOW + 20), NOW + 10)
        .await
        .unwrap();
    assert_eq!(second, Some(DeliveryStatus::Dead));
    // No longer pending: a late failure or success changes nothing.
    let late = store
        .mark_failed(failed("e1", "orders", "late", 2, NOW + 30), NOW + 20)
        .await
        .unwrap();
    assert_eq!(late, None);
    let dead = store.dead(10).await.unwrap();
    assert_eq!(dead[0].delivery.attempts, 2);
    assert_eq!(dead[0].delivery.last_error.as_deref(), Some("500"));
    // After a replay the count starts again, so one more failure does not dead-letter it.
    store.replay("e1", &subs(), NOW + 30).await.unwrap();
    let after = store
        .mark_failed(failed("e1", "orders", "500", 2, NOW + 40), NOW + 30)
        .await
        .unwrap();
    assert_eq!(after, Some(DeliveryStatus::Pending));
}

pub async fn check_replay_requeues_every_delivery_and_adds_new_subscribers(store: &dyn EventStore) {
    store
        .append(NewEvents::due_now(&[event("e1", "A")], &subs(), NOW))
        .await
        .unwrap();
    store
        .mark_delivered(Deliveries::to("orders", &ids(&["e1"])), NOW)
        .await
        .unwrap();
    store
        .mark_failed(failed("e1", "payments", "boom", 1, NOW), NOW)
        .await
        .unwrap();
    let mut now_subs = subs();
    now_subs.push(Subscription::all("audit"));
    let queued = store.replay("e1", &now_subs, NOW + 50).await.unwrap();
    assert_eq!(queued, 3);
    for sub in ["orders", "payments", "audit"] {
        let due = peek(store, sub, NOW + 50, 10).await;
        assert_eq!(due.len(), 1, "{sub}");
        assert_eq!(due[0].attempts, 0);
    }
    let c = store.counts().await.unwrap();
    assert_eq!((c.pending, c.dead), (3, 0));
    let err = store.replay("missing", &subs(), NOW).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
}

pub async fn check_dead_is_most_recently_failed_first_then_newest_event_and_limited(
    store: &dyn EventStore,
) {
    store
        .append(NewEvents::due_now(
            &[event("e1", "A"), event("e2", "A"), event("e3", "A")],
            &subs(),
            NOW,
        ))
        .await
        .unwrap();
    let kill = |id: &'static str, at: i64| async move {
        store
            .mark_failed(failed(id, "orders", "x", 1, at), at)
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
