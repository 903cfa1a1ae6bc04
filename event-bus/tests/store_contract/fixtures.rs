//! Fixtures shared by the checks and the standalone tests: the clock, the subscribers, events,
//! and helpers to peek at due deliveries.

use event_bus::domain::{DueDelivery, Subscription};
use event_bus::store::{Claim, EventStore, FailedAttempt};
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
    store
        .claim(Claim {
            subscriber: sub,
            now,
            lease_until: now,
            limit,
        })
        .await
        .unwrap()
}

/// A failed attempt at the delivery of `event_id` to `subscriber`.
pub fn failed<'a>(
    event_id: &'a str,
    subscriber: &'a str,
    error: &'a str,
    max_attempts: u32,
    retry_at: i64,
) -> FailedAttempt<'a> {
    FailedAttempt {
        event_id,
        subscriber,
        error,
        max_attempts,
        retry_at,
    }
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
