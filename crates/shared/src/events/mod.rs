//! Events between services: the envelope, the names used, the batch the bus delivers, a
//! consumer's `POST /events` (`consumer`), and the transactional outbox (`outbox`: SQLite schema,
//! insert inside the caller's transaction, and the relay that delivers to the bus at least once).

pub mod consumer;
mod outbox;

pub use consumer::{receive_events, EventConsumer};
pub use outbox::{outbox_insert, OutboxRelay, OutboxStore, SqliteOutbox, SQLITE_OUTBOX_SCHEMA};

use crate::store::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Event type names (the original's).
pub mod types {
    /// An order was placed (stock reserved).
    pub const ORDER_CREATED: &str = "OrderCreated";
    /// An order changed status.
    pub const ORDER_UPDATED: &str = "OrderUpdated";
    /// An order was cancelled.
    pub const ORDER_CANCELLED: &str = "OrderCancelled";
    /// A payment succeeded.
    pub const PAYMENT_PROCESSED: &str = "PaymentProcessed";
    /// A payment failed for good.
    pub const PAYMENT_FAILED: &str = "PaymentFailed";
    /// A payment was refunded.
    pub const PAYMENT_REFUNDED: &str = "PaymentRefunded";
    /// Every type above.
    pub const ALL: [&str; 6] = [
        ORDER_CREATED,
        ORDER_UPDATED,
        ORDER_CANCELLED,
        PAYMENT_PROCESSED,
        PAYMENT_FAILED,
        PAYMENT_REFUNDED,
    ];
    /// The types the order service acts on (the rest it acknowledges and ignores): its
    /// subscription on the bus.
    pub const ORDER_SERVICE_CONSUMES: [&str; 3] =
        [PAYMENT_PROCESSED, PAYMENT_FAILED, PAYMENT_REFUNDED];
    /// The types the payment service acts on: its subscription on the bus.
    pub const PAYMENT_SERVICE_CONSUMES: [&str; 2] = [ORDER_CREATED, ORDER_CANCELLED];
}

/// An event as stored and delivered: `{id, type, data, occurredAt, source}` (the schema `Event`
/// of the OpenAPI documents: a subscriber's `POST /events` receives it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(
    as = Event,
    examples(json!({"id": "6b13f727b32d7cebb0000003", "type": "PaymentProcessed",
        "data": {"orderId": "6b13f727b32d7cebb0000002", "paymentId": "6b13f727b32d7cebb0000004",
            "transactionId": "txn_1", "amount": 999.99},
        "occurredAt": "2026-12-05T11:36:07.866Z", "source": "payment-service"}))
)]
pub struct EventEnvelope {
    /// Unique id (ObjectId hex); consumers apply each id once.
    pub id: String,
    /// Event type (`OrderCreated`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Payload, fields as in the original.
    #[schema(value_type = Object)]
    pub data: Value,
    /// When it happened (ISO-8601, ms).
    pub occurred_at: String,
    /// Emitting service.
    pub source: String,
}

impl EventEnvelope {
    /// A new event with a fresh id, stamped now.
    pub fn new(event_type: &str, data: Value, source: &str) -> Self {
        Self {
            id: crate::ids::new_object_id(),
            event_type: event_type.to_string(),
            data,
            occurred_at: crate::store::iso_ms(now_ms()),
            source: source.to_string(),
        }
    }
}

/// An incoming `POST /events` body from the bus: one envelope or an array of them.
#[derive(Debug)]
pub struct IncomingEvents(pub Vec<EventEnvelope>);

impl crate::extract::FromJson for IncomingEvents {
    const LIMITS: crate::json::BodyLimits = crate::json::BodyLimits::EVENTS;

    fn from_json(value: &Value) -> Result<Self, crate::ApiError> {
        let items = match value {
            Value::Array(items) => items.as_slice(),
            one => std::slice::from_ref(one),
        };
        items
            .iter()
            .map(EventEnvelope::deserialize)
            .collect::<Result<_, _>>()
            .map(IncomingEvents)
            .map_err(|e| {
                crate::ApiError::bad_request("invalid_event", format!("Invalid event: {e}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_serialises_with_original_names() {
        use crate::extract::FromJson;
        let e = EventEnvelope::new("OrderCreated", serde_json::json!({}), "s");
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("type").is_some() && v.get("occurredAt").is_some());
        let two = IncomingEvents::from_json(&serde_json::json!([v.clone(), v])).unwrap();
        assert_eq!(two.0.len(), 2);
        assert_eq!(IncomingEvents::from_json(&v).unwrap().0, vec![e]);
        let bad = IncomingEvents::from_json(&serde_json::json!({"type": 1})).unwrap_err();
        assert_eq!(bad.code, "invalid_event");
    }
}
