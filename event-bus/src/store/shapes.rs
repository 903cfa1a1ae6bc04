//! The stored shapes of the event store, the same in both backends (rows of `events` and
//! `deliveries` in SQLite, documents in MongoDB; names and value types alike), and their mapping
//! to domain types.

use crate::clients::subscribers::delivery_body;
use crate::domain::{Delivery, DeliveryStatus, StoredEvent};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use shared::events::EventEnvelope;
use shared::sqlite::Stored;
use shared::store::StoreError;

/// One stored event: a row of `events`, or a document. `seq` is SQLite's arrival order; the
/// document's `complete` turns true once its deliveries exist, until then readers ignore it (the
/// SQLite transaction's "not committed yet"); `subscribers` and `completed_by` are MongoDB's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEnvelope {
    #[serde(rename = "_id", alias = "id")]
    pub id: String,
    /// Arrival order (SQLite's `seq`).
    #[serde(default)]
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
    #[serde(default)]
    pub subscribers: Vec<String>,
    #[serde(default)]
    pub complete: bool,
    /// The append call that completed it (decides which caller reports it as newly stored).
    #[serde(default)]
    pub completed_by: Option<String>,
}

impl StoredEnvelope {
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

    /// The envelope as received.
    pub fn envelope(&self) -> Result<EventEnvelope, StoreError> {
        Ok(EventEnvelope {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            data: serde_json::from_str(&self.data)?,
            occurred_at: self.occurred_at.clone(),
            source: self.source.clone(),
        })
    }
}

impl TryFrom<StoredEnvelope> for StoredEvent {
    type Error = StoreError;

    /// The domain event, without its deliveries.
    fn try_from(e: StoredEnvelope) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            envelope: e.envelope()?,
            received_at: e.received_at,
            deliveries: Vec::new(),
        })
    }
}

impl Stored for StoredEvent {
    type Row = StoredEnvelope;
}

/// One delivery of one event to one subscriber: a row of `deliveries`, or a document keyed by
/// `mongo::docs::delivery_id` (the key and `claim` are MongoDB's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredDelivery {
    #[serde(rename = "_id", default)]
    pub id: String,
    pub event_id: String,
    pub subscriber: String,
    /// The event's arrival order, copied so due deliveries sort without a join.
    #[serde(default)]
    pub seq: i64,
    #[serde(with = "shared::spelled::stored")]
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(default)]
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub updated_at: i64,
    /// The nonce of the claim that last leased it (absent before its first claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
}

impl From<StoredDelivery> for Delivery {
    fn from(d: StoredDelivery) -> Self {
        Delivery {
            subscriber: d.subscriber,
            status: d.status,
            attempts: u32::try_from(d.attempts).unwrap_or(u32::MAX),
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            updated_at: d.updated_at,
        }
    }
}

impl Stored for Delivery {
    type Row = StoredDelivery;
}
