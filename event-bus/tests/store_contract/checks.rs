//! The backend-independent checks of the `EventStore` contract, each a plain function of a store.

use event_bus::domain::{DeliveryStatus, DueDelivery, Subscription};
use event_bus::store::{EventStore, StoreError};
use serde_json::json;
use shared::events::EventEnvelope;

pub const NOW: i64 = 1_700_000_000_000;

pub fn subs() -> Vec<Subscription> {
    vec![Subscription::all("orders"), Subscription::all("payments")]
}

pub fn event(id: &str, ty: &str) -> EventEnvelope {
    EventEnvelope {
        id: id.to_string(),
        event_type: ty.to_string(),
        data: json!({"orderId": id}),
        occurred_at: "2026-11-25T10:00:00.000Z".to_string(),
        source: "order-service".to_string(),
    }
}

/// The deliveries of `sub` due at `now`, claimed with a lease ending at `now` (so they stay due).
pub async fn peek(store: &dyn EventStore, sub: &str, now: i64, limit: u32) -> Vec<DueDelivery> {
    store.claim(sub, now, now, limit).await.unwrap()
}

pub fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

/// The event a delivery's body carries (the body must be the envelope's JSON).
pub fn envelope_of(d: &DueDelivery) -> EventEnvelope {
    let envelope: EventEnvelope = serde_json::from_slice(&d.body).unwrap();
    assert_eq!(envelope.id, d.event_id);
    envelope
}

pub async fn check_append_is_idempotent_by_id(store: &dyn EventStore) {
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

pub async fn check_due_deliveries_are_per_subscriber_in_arrival_order(store: &dyn EventStore) {
    store
        .append(&[event("b", "A"), event("a", "A")], &subs(), NOW)
        .await
        .unwrap();
    store
        .append(&[event("c", "A")], &[Subscription::all("orders")], NOW)
        .await
        .unwrap();
    let due = peek(store, "orders", NOW, 10).await;
    let ids: Vec<_> = due.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(ids, ["b", "a", "c"]);
    assert_eq!(envelope_of(&due[0]), event("b", "A"));
    assert_eq!(peek(store, "payments", NOW, 10).await.len(), 2);
    assert_eq!(peek(store, "orders", NOW, 1).await.len(), 1);
    assert!(peek(store, "orders", NOW - 1, 10).await.is_empty());
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(NOW));
    assert_eq!(store.next_due_at("nobody").await.unwrap(), None);
}

pub async fn check_delivered_and_failed_deliveries_change_state(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A"), event("e2", "A")], &subs(), NOW)
        .await
        .unwrap();
    store
        .mark_delivered("orders", &ids(&["e1"]), NOW + 5)
        .await
        .unwrap();
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
    assert!(peek(store, "orders", NOW + 999, 10).await.is_empty());
    let due = peek(store, "orders", NOW + 1000, 10).await;
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].event_id.as_str(), due[0].attempts), ("e2", 1));
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

pub async fn check_dead_deliveries_are_listed_with_their_event(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    store
        .mark_failed("e1", "payments", "timeout", 1, NOW + 99, NOW + 7)
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
        .mark_delivered("payments", &ids(&["e1"]), NOW + 8)
        .await
        .unwrap();
    assert_eq!(store.dead(10).await.unwrap().len(), 1);
}

pub async fn check_failures_go_dead_when_stored_attempts_reach_the_maximum(store: &dyn EventStore) {
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

pub async fn check_replay_requeues_every_delivery_and_adds_new_subscribers(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    store
        .mark_delivered("orders", &ids(&["e1"]), NOW)
        .await
        .unwrap();
    store
        .mark_failed("e1", "payments", "boom", 1, NOW, NOW)
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

pub async fn check_recent_is_newest_first_filtered_and_limited(store: &dyn EventStore) {
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

pub async fn check_counts_start_at_zero_and_ping_answers(store: &dyn EventStore) {
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending, c.dead), (0, 0, 0));
    store.ping().await.unwrap();
}

pub async fn check_odd_event_ids_and_subscriber_names_stay_apart(store: &dyn EventStore) {
    // Pairs that a naive "<event>/<subscriber>" key would merge.
    store
        .append(&[event("a/b", "A")], &[Subscription::all("c")], NOW)
        .await
        .unwrap();
    store
        .append(&[event("a", "A")], &[Subscription::all("b/c")], NOW)
        .await
        .unwrap();
    store
        .mark_delivered("c", &ids(&["a/b"]), NOW + 1)
        .await
        .unwrap();
    let due = peek(store, "b/c", NOW, 10).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].event_id, "a");
    assert!(peek(store, "c", NOW, 10).await.is_empty());
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (2, 1));
}

pub async fn check_event_data_round_trips_exactly(store: &dyn EventStore) {
    let mut e = event("e1", "A");
    e.data =
        json!({"big": u64::MAX, "neg": -3, "f": 1.5, "nested": {"z": [1, "x", null], "a": true}});
    store.append(&[e.clone()], &subs(), NOW).await.unwrap();
    let due = peek(store, "orders", NOW, 1).await;
    assert_eq!(envelope_of(&due[0]), e);
    assert_eq!(store.recent(None, 1).await.unwrap()[0].envelope, e);
}

pub async fn check_an_empty_append_and_no_subscribers_store_nothing_to_deliver(
    store: &dyn EventStore,
) {
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

pub async fn check_unknown_deliveries_take_no_state_changes(store: &dyn EventStore) {
    store
        .append(&[event("e1", "A")], &subs(), NOW)
        .await
        .unwrap();
    store
        .mark_delivered("nobody", &ids(&["e1"]), NOW)
        .await
        .unwrap();
    store
        .mark_delivered("orders", &ids(&["nope"]), NOW)
        .await
        .unwrap();
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

pub async fn check_dead_is_most_recently_failed_first_then_newest_event_and_limited(
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

pub async fn check_claims_lease_deliveries_until_settled_or_released(store: &dyn EventStore) {
    let three = [event("e1", "A"), event("e2", "A"), event("e3", "A")];
    store.append(&three, &subs(), NOW).await.unwrap();
    let lease = NOW + 30_000;
    let first = store.claim("orders", NOW, lease, 2).await.unwrap();
    let got: Vec<_> = first.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(got, ["e1", "e2"]);
    assert_eq!(envelope_of(&first[0]), event("e1", "A"));
    // Leased: a second claim (this replica or another) gets only the rest, until the lease ends.
    let second = store.claim("orders", NOW + 1, lease, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].event_id, "e3");
    assert!(store
        .claim("orders", NOW + 2, lease, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(lease));
    // Other subscribers' deliveries are their own.
    assert_eq!(peek(store, "payments", NOW, 10).await.len(), 3);
    // Acknowledged together; released ones are due at once; the lease is not an attempt.
    store
        .mark_delivered("orders", &ids(&["e1", "e3", "unknown"]), NOW + 3)
        .await
        .unwrap();
    store
        .release("orders", &ids(&["e2"]), NOW + 4)
        .await
        .unwrap();
    let again = peek(store, "orders", NOW + 4, 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].event_id.as_str(), again[0].attempts), ("e2", 0));
    // A release never makes a delivery due later than it was, nor revives a delivered one.
    store
        .release("orders", &ids(&["e1", "e2"]), NOW + 99)
        .await
        .unwrap();
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(NOW + 4));
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending, c.dead), (3, 4, 0));
    // A lease that ended makes the delivery due again (a bus that stopped without releasing).
    let orders = store.recent(None, 10).await.unwrap();
    let e1 = orders.iter().find(|e| e.envelope.id == "e1").unwrap();
    let d = e1
        .deliveries
        .iter()
        .find(|d| d.subscriber == "orders")
        .unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Delivered, 1));
    store.claim("payments", NOW, lease, 10).await.unwrap();
    assert!(peek(store, "payments", lease - 1, 10).await.is_empty());
    assert_eq!(peek(store, "payments", lease, 10).await.len(), 3);
}

pub async fn check_leased_appends_are_due_when_their_lease_ends(store: &dyn EventStore) {
    let stored = store
        .append_leased(&[event("e1", "A")], &subs(), NOW, NOW + 1000)
        .await
        .unwrap();
    assert_eq!(stored, ["e1"]);
    // Handed over by the caller: nobody claims them meanwhile.
    assert!(peek(store, "orders", NOW + 999, 10).await.is_empty());
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(NOW + 1000));
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (1, 2));
    // Given back (no worker took it): due at once.
    store
        .release("payments", &ids(&["e1"]), NOW + 1)
        .await
        .unwrap();
    assert_eq!(peek(store, "payments", NOW + 1, 10).await.len(), 1);
    // Not given back: due when the lease ends, as a crashed bus's would be.
    assert_eq!(peek(store, "orders", NOW + 1000, 10).await.len(), 1);
}

pub async fn check_subscribers_get_deliveries_only_of_the_types_they_want(store: &dyn EventStore) {
    let subs = vec![
        Subscription::only("orders", &["PaymentProcessed"]),
        Subscription::only("payments", &["OrderCreated", "OrderCancelled"]),
        Subscription::all("audit"),
    ];
    let stored = store
        .append(
            &[
                event("o1", "OrderCreated"),
                event("p1", "PaymentProcessed"),
                event("u1", "OrderUpdated"),
            ],
            &subs,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(stored, ["o1", "p1", "u1"]);
    let due_ids = |due: Vec<DueDelivery>| due.into_iter().map(|d| d.event_id).collect::<Vec<_>>();
    assert_eq!(due_ids(peek(store, "orders", NOW, 10).await), ["p1"]);
    assert_eq!(due_ids(peek(store, "payments", NOW, 10).await), ["o1"]);
    assert_eq!(
        due_ids(peek(store, "audit", NOW, 10).await),
        ["o1", "p1", "u1"]
    );
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending), (3, 5));
    // An event nobody but audit wants is listed with that one delivery.
    let recent = store.recent(Some("OrderUpdated"), 10).await.unwrap();
    let names: Vec<&str> = recent[0]
        .deliveries
        .iter()
        .map(|d| d.subscriber.as_str())
        .collect();
    assert_eq!(names, ["audit"]);
    // A replay adds deliveries only for the subscribers that want the type.
    let mut more = subs.clone();
    more.push(Subscription::only("billing", &["PaymentProcessed"]));
    more.push(Subscription::only("shipping", &["OrderUpdated"]));
    assert_eq!(store.replay("p1", &more, NOW + 1).await.unwrap(), 3);
    assert_eq!(due_ids(peek(store, "billing", NOW + 1, 10).await), ["p1"]);
    assert!(peek(store, "shipping", NOW + 1, 10).await.is_empty());
}
