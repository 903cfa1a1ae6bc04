//! The MongoDB side of the event store's documents (`events`, `deliveries`, `counters`): how new
//! ones are made, delivery ids, the requeue update and the indexes (the documents are the stored
//! shapes both backends share, `store::shapes`).

use super::super::shapes::{StoredDelivery, StoredEnvelope};
use super::StoreError;
use crate::domain::{DeliveryStatus, Subscription};
use mongodb::bson::{doc, Document};
use shared::events::EventEnvelope;
use shared::mongo::IndexSpec;

pub(super) const EVENTS: &str = "events";
pub(super) const DELIVERIES: &str = "deliveries";
pub(super) const COUNTERS: &str = "counters";
/// The counter document that hands out arrival sequence numbers.
pub(super) const EVENT_SEQ: &str = "events";

impl StoredEnvelope {
    pub fn new(
        e: &EventEnvelope,
        seq: i64,
        subscribers: &[Subscription],
        now: i64,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            id: e.id.clone(),
            seq,
            event_type: e.event_type.clone(),
            data: serde_json::to_string(&e.data)?,
            occurred_at: e.occurred_at.clone(),
            source: e.source.clone(),
            received_at: now,
            subscribers: wanting(subscribers, &e.event_type),
            complete: false,
            completed_by: None,
        })
    }
}

/// The names of the subscriptions that want events of `event_type`.
pub fn wanting(subscribers: &[Subscription], event_type: &str) -> Vec<String> {
    subscribers
        .iter()
        .filter(|s| s.wants(event_type))
        .map(|s| s.name.clone())
        .collect()
}

impl StoredDelivery {
    /// A fresh pending delivery made at `now`, due at `due_at`.
    pub fn pending(event_id: &str, subscriber: &str, seq: i64, now: i64, due_at: i64) -> Self {
        Self {
            id: delivery_id(event_id, subscriber),
            event_id: event_id.to_string(),
            subscriber: subscriber.to_string(),
            seq,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at: due_at,
            delivered_at: None,
            updated_at: now,
            claim: None,
        }
    }
}

/// The `_id` of a delivery: the event id's length first, so no pair of (event id, subscriber)
/// shares an `_id` with another whatever characters either holds.
pub(super) fn delivery_id(event_id: &str, subscriber: &str) -> String {
    format!("{}:{event_id}/{subscriber}", event_id.len())
}

/// The `$set` that puts a delivery back to pending with no attempts, due at `now`.
pub(super) fn requeue(now: i64) -> Document {
    doc! {"$set": {
        "status": DeliveryStatus::Pending.as_str(), "attempts": 0_i64, "last_error": null,
        "delivered_at": null, "next_attempt_at": now, "updated_at": now,
    }}
}

/// The indexes: the latest complete events, of one type or all (and their count), `_id` breaking
/// ties as the sort does; a subscriber's pending deliveries in event order with the due time read
/// from the index; when a subscriber's next pending delivery is due; dead letters, latest first,
/// and the counts by status; the deliveries of listed events, and a replay's; the claim tokens'.
pub(super) fn indexes() -> Vec<IndexSpec> {
    let mut specs = vec![
        IndexSpec::named(
            EVENTS,
            "events_complete_seq",
            doc! {"complete": 1, "seq": -1, "_id": -1},
        ),
        IndexSpec::named(
            EVENTS,
            "events_complete_type_seq",
            doc! {"complete": 1, "type": 1, "seq": -1, "_id": -1},
        ),
        IndexSpec::named(
            DELIVERIES,
            "deliveries_due_seq",
            doc! {"subscriber": 1, "status": 1, "seq": 1, "event_id": 1, "next_attempt_at": 1},
        ),
        IndexSpec::named(
            DELIVERIES,
            "deliveries_next",
            doc! {"subscriber": 1, "status": 1, "next_attempt_at": 1},
        ),
        IndexSpec::named(
            DELIVERIES,
            "deliveries_status",
            doc! {"status": 1, "updated_at": -1, "seq": -1},
        ),
        IndexSpec::named(
            DELIVERIES,
            "deliveries_event",
            doc! {"event_id": 1, "subscriber": 1},
        ),
    ];
    specs.extend(shared::mongo::claim_indexes());
    specs
}
