//! Contract checks of storing events: appends idempotent by id, exact data, odd ids and names,
//! subscriptions by type, and the recent list and counts.

use super::*;

pub async fn check_append_is_idempotent_by_id(store: &dyn EventStore) {
    let first = store
        .append(NewEvents::due_now(
            &[event("e1", "A"), event("e2", "B")],
            &subs(),
            NOW,
        ))
        .await
        .unwrap();
    assert_eq!(first, ["e1", "e2"]);
    let again = store
        .append(NewEvents::due_now(
            &[event("e2", "B"), event("e3", "A"), event("e3", "A")],
            &subs(),
            NOW,
        ))
        .await
        .unwrap();
    assert_eq!(again, ["e3"]);
    let c = store.counts().await.unwrap();
    assert_eq!((c.total_events, c.pending, c.dead), (3, 6, 0));
}

pub async fn check_recent_is_newest_first_filtered_and_limited(store: &dyn EventStore) {
    for (id, ty) in [("e1", "A"), ("e2", "B"), ("e3", "A"), ("e4", "A")] {
        store
            .append(NewEvents::due_now(&[event(id, ty)], &subs(), NOW))
            .await
            .unwrap();
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
        .append(NewEvents::due_now(
            &[event("a/b", "A")],
            &[Subscription::all("c")],
            NOW,
        ))
        .await
        .unwrap();
    store
        .append(NewEvents::due_now(
            &[event("a", "A")],
            &[Subscription::all("b/c")],
            NOW,
        ))
        .await
        .unwrap();
    store
        .mark_delivered(Deliveries::to("c", &ids(&["a/b"])), NOW + 1)
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
    store
        .append(NewEvents::due_now(&[e.clone()], &subs(), NOW))
        .await
        .unwrap();
    let due = peek(store, "orders", NOW, 1).await;
    assert_eq!(envelope_of(&due[0]), e);
    assert_eq!(store.recent(None, 1).await.unwrap()[0].envelope, e);
}

pub async fn check_an_empty_append_and_no_subscribers_store_nothing_to_deliver(
    store: &dyn EventStore,
) {
    assert!(store
        .append(NewEvents::due_now(&[], &subs(), NOW))
        .await
        .unwrap()
        .is_empty());
    let stored = store
        .append(NewEvents::due_now(&[event("e1", "A")], &[], NOW))
        .await
        .unwrap();
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

pub async fn check_subscribers_get_deliveries_only_of_the_types_they_want(store: &dyn EventStore) {
    let subs = vec![
        Subscription::only("orders", &["PaymentProcessed"]),
        Subscription::only("payments", &["OrderCreated", "OrderCancelled"]),
        Subscription::all("audit"),
    ];
    let stored = store
        .append(NewEvents::due_now(
            &[
                event("o1", "OrderCreated"),
                event("p1", "PaymentProcessed"),
                event("u1", "OrderUpdated"),
            ],
            &subs,
            NOW,
        ))
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
