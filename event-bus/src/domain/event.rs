//! Stored events and their deliveries: one delivery per (event, subscriber), moving from `pending`
//! to `delivered`, or to `dead` once every attempt failed.

use bytes::Bytes;
use shared::events::EventEnvelope;
use strum::{EnumString, IntoStaticStr, VariantNames};

/// Where one delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet acknowledged; attempted when due.
    Pending,
    /// The subscriber answered 2xx.
    Delivered,
    /// Every attempt failed; waits for a replay.
    Dead,
}

shared::spelled!(DeliveryStatus);

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
    /// columns (see `clients::subscribers::delivery_body`).
    pub body: Bytes,
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
}
