//! The MongoDB documents of the event store (`events`, `deliveries`, `counters`), their indexes and
//! their mapping to domain types. Field names and value types mirror the SQLite columns.

use super::StoreError;
use crate::domain::{delivery_body, Delivery, DeliveryStatus, StoredEvent, Subscription};
use bytes::Bytes;
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};
use shared::events::EventEnvelope;
use shared::mongo::IndexSpec;

pub(super) const EVENTS: &str = "events";
pub(super) const DELIVERIES: &str = "deliveries";
pub(super) const COUNTERS: &str = "counters";
/// The counter document that hands out arrival sequence numbers.
pub(super) const EVENT_SEQ: &str = "events";

/// One stored event. `complete` turns true once its deliveries exist; until then readers ignore
/// it (the SQLite transaction's "not committed yet").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct EventDoc {
    #[serde(rename = "_id")]
    pub id: String,
    /// Arrival order (SQLite's `seq`).
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The JSON text of `data`, stored as text (as in SQLite) so it round-trips exactly
    /// (BSON has no unsigned 64-bit integers).
    pub data: String,
    pub occurred_at: String,
    pub source: String,
    pub received_at: i64,
    /// The subscribers that wanted its type when it arrived: the deliveries to create.
    pub subscribers: Vec<String>,
    pub complete: bool,
    /// The append call that completed it (decides which caller reports it as newly stored).
    #[serde(default)]
    pub completed_by: Option<String>,
}

impl EventDoc {
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

    /// The body posted to subscribers (`data` spliced in as stored).
    pub fn body(&self) -> Bytes {
        delivery_body(
            &self.id,
            &self.event_type,
            &self.data,
            &self.occurred_at,
            &self.source,
        )
    }

    pub fn envelope(&self) -> Result<EventEnvelope, StoreError> {
        Ok(EventEnvelope {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            data: serde_json::from_str(&self.data)?,
            occurred_at: self.occurred_at.clone(),
            source: self.source.clone(),
        })
    }

    pub fn stored(&self) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            envelope: self.envelope()?,
            received_at: self.received_at,
            deliveries: Vec::new(),
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

/// One delivery of one event to one subscriber, keyed by [`delivery_id`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct DeliveryDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub event_id: String,
    pub subscriber: String,
    /// The event's arrival order, copied so due deliveries sort without a join.
    pub seq: i64,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub updated_at: i64,
    /// The nonce of the claim that last leased it (absent before its first claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
}

impl DeliveryDoc {
    /// A fresh pending delivery made at `now`, due at `due_at`.
    pub fn pending(event_id: &str, subscriber: &str, seq: i64, now: i64, due_at: i64) -> Self {
        Self {
            id: delivery_id(event_id, subscriber),
            event_id: event_id.to_string(),
            subscriber: subscriber.to_string(),
            seq,
            status: DeliveryStatus::Pending.as_str().to_string(),
            attempts: 0,
            last_error: None,
            next_attempt_at: due_at,
            delivered_at: None,
            updated_at: now,
            claim: None,
        }
    }

    pub fn delivery(&self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            subscriber: self.subscriber.clone(),
            status: DeliveryStatus::parse(&self.status).ok_or_else(|| {
                StoreError::Other(format!("unknown delivery status {:?}", self.status))
            })?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_error: self.last_error.clone(),
            delivered_at: self.delivered_at,
            updated_at: self.updated_at,
        })
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
/// and the counts by status; the deliveries of listed events, and a replay's.
pub(super) fn indexes() -> Vec<IndexSpec> {
    vec![
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
    ]
}

/// Maps an `insert_many` error to `Ok` when every failed document was a duplicate `_id` (already
/// stored by an earlier or concurrent call), else to the `StoreError`.
pub(super) fn ignore_duplicates(e: mongodb::error::Error) -> Result<(), StoreError> {
    use mongodb::error::ErrorKind;
    if let ErrorKind::InsertMany(m) = e.kind.as_ref() {
        let only_dups = m.write_concern_error.is_none()
            && m.write_errors
                .as_ref()
                .is_some_and(|errs| errs.iter().all(|w| w.code == 11000));
        if only_dups {
            return Ok(());
        }
    }
    Err(e.into())
}
