//! Wire types of the event API: the validated `POST /events` body (one event or an array) and the
//! JSON shapes of stored events and deliveries.

use crate::domain::{DeadDelivery, Delivery, StoredEvent};
use serde::Serialize;
use serde_json::{Map, Value};
use shared::error::{ApiError, FieldError};
use shared::events::EventEnvelope;
use shared::extract::{BodyLimits, FromJson};
use shared::store::{iso_ms, now_ms};
use shared::validate::Validator;

/// Most events accepted in one request.
pub const MAX_BATCH: usize = 500;

/// A validated `POST /events` body: events with ids, sources and times filled in.
#[derive(Debug)]
pub struct PublishRequest(pub Vec<EventEnvelope>);

impl FromJson for PublishRequest {
    const LIMITS: BodyLimits = BodyLimits::EVENTS;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let now = iso_ms(now_ms());
        match value {
            Value::Object(obj) => {
                let mut errors = Vec::new();
                let event = parse_event(obj, "", &now, &mut errors);
                finish(event.into_iter().collect(), errors)
            }
            Value::Array(items) => {
                if items.is_empty() || items.len() > MAX_BATCH {
                    return Err(ApiError::validation(vec![FieldError::new(
                        "body",
                        format!("\"value\" must contain between 1 and {MAX_BATCH} events"),
                    )]));
                }
                let mut errors = Vec::new();
                let mut events = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let path = i.to_string();
                    match item.as_object() {
                        Some(obj) => events.extend(parse_event(obj, &path, &now, &mut errors)),
                        None => errors.push(FieldError::new(
                            path.clone(),
                            format!("\"[{path}]\" must be of type object"),
                        )),
                    }
                }
                finish(events, errors)
            }
            _ => Err(ApiError::validation(vec![FieldError::new(
                "body",
                "\"value\" must be an event object or an array of events",
            )])),
        }
    }
}

fn finish(events: Vec<EventEnvelope>, errors: Vec<FieldError>) -> Result<PublishRequest, ApiError> {
    if errors.is_empty() {
        Ok(PublishRequest(events))
    } else {
        Err(ApiError::validation(errors))
    }
}

fn parse_event(
    obj: &Map<String, Value>,
    prefix: &str,
    now: &str,
    errors: &mut Vec<FieldError>,
) -> Option<EventEnvelope> {
    let mut v = Validator::nested(obj, prefix);
    let event_type = v.string("type", 1, 100);
    let data = v.object("data").cloned();
    let id = v.opt_string("id", 1, 64);
    let source = v.opt_string("source", 1, 100);
    let occurred_at = match v.opt_string("occurredAt", 1, 64) {
        Some(s) => match chrono::DateTime::parse_from_rfc3339(&s) {
            Ok(t) => Some(iso_ms(t.timestamp_millis())),
            Err(_) => {
                v.error("occurredAt", "must be a valid ISO 8601 date");
                None
            }
        },
        None => Some(now.to_string()),
    };
    let found = v.finish_nested();
    let ok = found.is_empty();
    errors.extend(found);
    if !ok {
        return None;
    }
    Some(EventEnvelope {
        id: id.unwrap_or_else(shared::ids::new_object_id),
        event_type: event_type?,
        data: Value::Object(data?),
        occurred_at: occurred_at?,
        source: source.unwrap_or_else(|| "unknown".to_string()),
    })
}

/// One delivery as listed: `{subscriber, status, attempts, lastError?, deliveredAt?}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryResponse {
    subscriber: String,
    status: &'static str,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<String>,
    updated_at: String,
}

impl From<&Delivery> for DeliveryResponse {
    fn from(d: &Delivery) -> Self {
        Self {
            subscriber: d.subscriber.clone(),
            status: d.status.as_str(),
            attempts: d.attempts,
            last_error: d.last_error.clone(),
            delivered_at: d.delivered_at.map(iso_ms),
            updated_at: iso_ms(d.updated_at),
        }
    }
}

/// One event as listed: `{id, type, data, occurredAt, source, receivedAt, deliveries}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventResponse {
    #[serde(flatten)]
    envelope: EventEnvelope,
    received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries: Option<Vec<DeliveryResponse>>,
}

impl EventResponse {
    /// With its deliveries.
    pub fn with_deliveries(e: &StoredEvent) -> Self {
        Self {
            envelope: e.envelope.clone(),
            received_at: iso_ms(e.received_at),
            deliveries: Some(e.deliveries.iter().map(DeliveryResponse::from).collect()),
        }
    }

    fn bare(e: &StoredEvent) -> Self {
        Self {
            envelope: e.envelope.clone(),
            received_at: iso_ms(e.received_at),
            deliveries: None,
        }
    }
}

/// One dead delivery as listed: the delivery's fields plus `event`.
#[derive(Debug, Serialize)]
pub struct DeadResponse {
    #[serde(flatten)]
    delivery: DeliveryResponse,
    event: EventResponse,
}

impl From<&DeadDelivery> for DeadResponse {
    fn from(d: &DeadDelivery) -> Self {
        Self {
            delivery: DeliveryResponse::from(&d.delivery),
            event: EventResponse::bare(&d.event),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn one_event_gets_an_id_a_time_and_a_source() {
        let PublishRequest(events) =
            PublishRequest::from_json(&json!({"type": "OrderCreated", "data": {"a": 1}})).unwrap();
        assert_eq!(events.len(), 1);
        assert!(shared::ids::is_object_id(&events[0].id));
        assert_eq!(events[0].source, "unknown");
        assert!(events[0].occurred_at.ends_with('Z'));
    }

    #[test]
    fn array_errors_name_the_index_of_each_bad_field() {
        let body = json!([
            {"type": "A", "data": {}},
            {"type": "", "data": 3, "extra": true},
            "nope",
            {"type": "B", "data": {}, "occurredAt": "yesterday", "id": "x".repeat(65)}
        ]);
        let err = PublishRequest::from_json(&body).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["1.type", "1.data", "1.extra", "2", "3.id", "3.occurredAt"]
        );
    }

    #[test]
    fn empty_and_oversized_batches_are_rejected() {
        assert!(PublishRequest::from_json(&json!([])).is_err());
        let many: Vec<Value> = (0..=MAX_BATCH)
            .map(|_| json!({"type": "A", "data": {}}))
            .collect();
        assert!(PublishRequest::from_json(&Value::Array(many)).is_err());
        assert!(PublishRequest::from_json(&json!("text")).is_err());
    }

    #[test]
    fn occurred_at_is_normalised_to_utc_millis() {
        let body = json!({"type": "A", "data": {}, "occurredAt": "2026-01-02T03:04:05+01:00"});
        let PublishRequest(events) = PublishRequest::from_json(&body).unwrap();
        assert_eq!(events[0].occurred_at, "2026-01-02T02:04:05.000Z");
    }
}
