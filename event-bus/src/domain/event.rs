//! Stored events and their deliveries: one delivery per (event, subscriber), moving from `pending`
//! to `delivered`, or to `dead` once every attempt failed.

use bytes::Bytes;
use shared::events::EventEnvelope;

/// Where one delivery stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr, strum::VariantNames,
)]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet acknowledged; attempted when due.
    Pending,
    /// The subscriber answered 2xx.
    Delivered,
    /// Every attempt failed; waits for a replay.
    Dead,
}

impl DeliveryStatus {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// The state of one event's delivery to one subscriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Subscriber name.
    pub subscriber: String,
    /// Current status.
    pub status: DeliveryStatus,
    /// Attempts made since the event arrived or was last replayed.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the subscriber acknowledged (UTC ms).
    pub delivered_at: Option<i64>,
    /// Last change (UTC ms).
    pub updated_at: i64,
}

/// An event as stored, with its deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The event as delivered.
    pub envelope: EventEnvelope,
    /// When the bus stored it (UTC ms).
    pub received_at: i64,
    /// One per subscriber that wanted its type when it arrived (or when it was replayed).
    pub deliveries: Vec<Delivery>,
}

/// A pending delivery claimed for an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    /// The event's id (also the `x-request-id` suffix of the attempt).
    pub event_id: String,
    /// Attempts already made.
    pub attempts: u32,
    /// The JSON body to post, `{id, type, data, occurredAt, source}`, built once from the stored
    /// columns (see [`delivery_body`]).
    pub body: Bytes,
}

/// The body every subscriber gets for an event: `data` is spliced in as the JSON text it was
/// stored as (written from a `serde_json::Value`, so already valid and compact), never parsed
/// and serialised again.
pub fn delivery_body(
    id: &str,
    event_type: &str,
    data_json: &str,
    occurred_at: &str,
    source: &str,
) -> Bytes {
    let mut out = Vec::with_capacity(96 + id.len() + data_json.len() + source.len());
    let mut field = |name: &[u8], value: &str| {
        out.extend_from_slice(name);
        // Writing a `&str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, value);
    };
    field(b"{\"id\":", id);
    field(b",\"type\":", event_type);
    field(b",\"occurredAt\":", occurred_at);
    field(b",\"source\":", source);
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data_json.as_bytes());
    out.push(b'}');
    Bytes::from(out)
}

/// A dead-lettered delivery and its event.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadDelivery {
    /// The delivery (status `Dead`).
    pub delivery: Delivery,
    /// Its event (its `deliveries` left empty).
    pub event: StoredEvent,
}

/// Totals for `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Events stored.
    pub total_events: u64,
    /// Deliveries not yet acknowledged.
    pub pending: u64,
    /// Dead-lettered deliveries.
    pub dead: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Dead,
        ] {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DeliveryStatus::parse("lost"), None);
    }

    #[test]
    fn a_delivery_body_is_the_envelope_with_data_as_stored() {
        let data = serde_json::json!({"big": u64::MAX, "f": 1.5, "s": "a\"b"});
        let envelope = EventEnvelope {
            id: "e\"1".to_string(),
            event_type: "OrderCreated".to_string(),
            data: data.clone(),
            occurred_at: "2026-11-25T10:00:00.000Z".to_string(),
            source: "order-service".to_string(),
        };
        let stored = serde_json::to_string(&data).unwrap_or_default();
        let body = delivery_body(
            &envelope.id,
            &envelope.event_type,
            &stored,
            &envelope.occurred_at,
            &envelope.source,
        );
        let parsed: EventEnvelope = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(parsed, envelope);
    }
}
