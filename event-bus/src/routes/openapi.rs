//! The bus's API described by OpenAPI 3.1: publishing events, reading recent ones and dead
//! letters, replaying. All of it is internal (the internal token; never exposed by the gateway),
//! served at `GET /internal/openapi.json` and printed by `--openapi-internal`. The schema types
//! describe; the wire (`wire.rs`) parses and answers.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use super::events;
use super::wire::MAX_BATCH;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::events::EventEnvelope;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, ToSchema};

/// An event to publish. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = NewEvent,
    examples(json!({"type": "OrderUpdated",
        "data": {"orderId": "6b13f727b32d7cebb0000002", "status": "shipped",
            "paymentStatus": "completed"},
        "source": "order-service"}))
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEventSchema {
    /// Its type; each subscriber gets the types it subscribed to.
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 100)]
    event_type: String,
    /// The payload.
    #[schema(value_type = Object)]
    data: Value,
    /// Its id (a new ObjectId when left out); an id already stored is accepted again without a
    /// second delivery.
    #[schema(min_length = 1, max_length = 64)]
    id: Option<String>,
    /// The emitting service (`unknown` when left out).
    #[schema(min_length = 1, max_length = 100)]
    source: Option<String>,
    /// When it happened, ISO-8601 (now when left out).
    #[schema(format = DateTime, max_length = 64)]
    occurred_at: Option<String>,
}

/// One event or 1–500 of them.
#[derive(ToSchema, Deserialize)]
#[schema(as = NewEvents)]
#[serde(untagged)]
pub enum NewEventsSchema {
    /// One event.
    One(NewEventSchema),
    /// Several, stored in one transaction.
    Many(NewEventBatch),
}

/// 1–`MAX_BATCH` events.
#[derive(Deserialize)]
pub struct NewEventBatch;

impl utoipa::PartialSchema for NewEventBatch {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name("NewEvent"))
            .min_items(Some(1))
            .max_items(Some(MAX_BATCH))
            .into()
    }
}

impl ToSchema for NewEventBatch {}

/// The ids of the published events.
#[derive(ToSchema, Serialize)]
#[schema(as = Published)]
pub struct PublishedSchema {
    /// Always `true`.
    success: bool,
    /// Always `OK` (the original's field).
    status: String,
    /// The ids, in the order sent.
    data: PublishedIds,
}

/// The ids of the published events.
#[derive(ToSchema, Serialize)]
pub struct PublishedIds {
    /// One per event.
    ids: Vec<String>,
}

/// One subscriber's delivery of an event.
#[derive(ToSchema, Serialize)]
#[schema(as = Delivery)]
#[serde(rename_all = "camelCase")]
pub struct DeliverySchema {
    /// The subscriber.
    subscriber: String,
    /// `pending`, `delivered` or `dead`.
    status: String,
    /// Attempts made.
    attempts: u32,
    /// The last failure.
    last_error: Option<String>,
    /// When it was delivered (ISO-8601).
    delivered_at: Option<String>,
    /// Its last change (ISO-8601).
    updated_at: String,
}

/// A stored event with its deliveries.
#[derive(ToSchema, Serialize)]
#[schema(as = StoredEvent)]
#[serde(rename_all = "camelCase")]
pub struct StoredEventSchema {
    /// The event as received.
    #[serde(flatten)]
    event: EventEnvelope,
    /// When the bus stored it (ISO-8601).
    received_at: String,
    /// Each subscriber's delivery (absent inside a dead letter).
    deliveries: Option<Vec<DeliverySchema>>,
}

/// A dead-lettered delivery with its event.
#[derive(ToSchema, Serialize)]
#[schema(as = DeadLetter)]
pub struct DeadLetterSchema {
    /// The delivery.
    #[serde(flatten)]
    delivery: DeliverySchema,
    /// Its event.
    event: StoredEventSchema,
}

/// A replayed event.
#[derive(ToSchema, Serialize)]
#[schema(as = Replayed)]
pub struct ReplayedSchema {
    /// The event.
    id: String,
    /// Deliveries queued again.
    queued: u64,
}

/// `GET /events`'s query. Unknown parameters are refused.
#[derive(IntoParams, Deserialize)]
#[into_params(parameter_in = Query)]
pub struct RecentParams {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(max_length = 100)]
    event_type: Option<String>,
    /// How many, newest first (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// `GET /events/dead`'s query. Unknown parameters are refused.
#[derive(IntoParams, Deserialize)]
#[into_params(parameter_in = Query)]
pub struct DeadParams {
    /// How many, most recently failed first (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

shared::openapi_document! {
    internal:
    info(title = "Event bus (internal)",
        description = "Events between the services: stored, then delivered at least once to \
                       each subscriber of their type (`POST <subscriber>/events`, the `Event` \
                       schema), retried with backoff, then dead-lettered. Every call needs the \
                       internal token."),
    paths(events::publish_events, events::list_events, events::list_dead, events::replay_event),
    components(schemas(NewEventSchema)),
    tags((name = "events", description = "The event log and its deliveries."))
}

#[cfg(test)]
mod tests;
