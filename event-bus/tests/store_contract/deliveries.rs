//! Contract checks of handing out deliveries: due per subscriber in arrival order, delivered
//! and failed state changes, claims and leases, and leased appends.

use super::*;

pub async fn check_due_deliveries_are_per_subscriber_in_arrival_order(store: &dyn EventStore) {
    store
        .append(NewEvents::due_now(
            &[event("b", "A"), event("a", "A")],
            &subs(),
            NOW,
        ))
        .await
        .unwrap();
    store
        .append(NewEvents::due_now(
            &[event("c", "A")],
            &[Subscription::all("orders")],
            NOW,
        ))
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
        .append(NewEvents::due_now(
            &[event("e1", "A"), event("e2", "A")],
            &subs(),
            NOW,
        ))
        .await
        .unwrap();
    store
        .mark_delivered(Deliveries::to("orders", &ids(&["e1"])), NOW + 5)
        .await
        .unwrap();
    store
        .mark_failed(
            failed("e2", "orders", "subscriber answered 500", 10, NOW + 1000),
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

pub async fn check_unknown_deliveries_take_no_state_changes(store: &dyn EventStore) {
    store
        .append(NewEvents::due_now(&[event("e1", "A")], &subs(), NOW))
        .await
        .unwrap();
    store
        .mark_delivered(Deliveries::to("nobody", &ids(&["e1"])), NOW)
        .await
        .unwrap();
    store
        .mark_delivered(Deliveries::to("orders", &ids(&["nope"])), NOW)
        .await
        .unwrap();
    let failed = store
        .mark_failed(failed("nope", "orders", "500", 3, NOW + 1), NOW)
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

pub async fn check_claims_lease_deliveries_until_settled_or_released(store: &dyn EventStore) {
    let three = [event("e1", "A"), event("e2", "A"), event("e3", "A")];
    store
        .append(NewEvents::due_now(&three, &subs(), NOW))
        .await
        .unwrap();
    let lease = NOW + 30_000;
    let first = store
        .claim(Claim {
            subscriber: "orders",
            now: NOW,
            lease_until: lease,
            limit: 2,
        })
        .await
        .unwrap();
    let got: Vec<_> = first.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(got, ["e1", "e2"]);
    assert_eq!(envelope_of(&first[0]), event("e1", "A"));
    // Leased: a second claim (this replica or another) gets only the rest, until the lease ends.
    let second = store
        .claim(Claim {
            subscriber: "orders",
            now: NOW + 1,
            lease_until: lease,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].event_id, "e3");
    assert!(store
        .claim(Claim {
            subscriber: "orders",
            now: NOW + 2,
            lease_until: lease,
            limit: 10
        })
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.next_due_at("orders").await.unwrap(), Some(lease));
    // Other subscribers' deliveries are their own.
    assert_eq!(peek(store, "payments", NOW, 10).await.len(), 3);
    // Acknowledged together; released ones are due at once; the lease is not an attempt.
    store
        .mark_delivered(
            Deliveries::to("orders", &ids(&["e1", "e3", "unknown"])),
            NOW + 3,
        )
        .await
        .unwrap();
    store
        .release(Deliveries::to("orders", &ids(&["e2"])), NOW + 4)
        .await
        .unwrap();
    let again = peek(store, "orders", NOW + 4, 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].event_id.as_str(), again[0].attempts), ("e2", 0));
    // A release never makes a delivery due later than it was, nor revives a delivered one.
    store
        .release(Deliveries::to("orders", &ids(&["e1", "e2"])), NOW + 99)
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
    store
        .claim(Claim {
            subscriber: "payments",
            now: NOW,
            lease_until: lease,
            limit: 10,
        })
        .await
        .unwrap();
    assert!(peek(store, "payments", lease - 1, 10).await.is_empty());
    assert_eq!(peek(store, "payments", lease, 10).await.len(), 3);
}

pub async fn check_leased_appends_are_due_when_their_lease_ends(store: &dyn EventStore) {
    let stored = store
        .append(NewEvents {
            events: &[event("e1", "A")],
            subscribers: &subs(),
            now: NOW,
            due_at: NOW + 1000,
        })
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
        .release(Deliveries::to("payments", &ids(&["e1"])), NOW + 1)
        .await
        .unwrap();
    assert_eq!(peek(store, "payments", NOW + 1, 10).await.len(), 1);
    // Not given back: due when the lease ends, as a crashed bus's would be.
    assert_eq!(peek(store, "orders", NOW + 1000, 10).await.len(), 1);
}
