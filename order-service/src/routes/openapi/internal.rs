//! The order service's internal API described by OpenAPI 3.1: the events it consumes from the
//! bus, the order as other services read it, and the order's side of a refund; served at
//! `GET /internal/openapi.json` (internal token) and printed by `--openapi-internal`; never
//! exposed by the gateway.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use super::OrderSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

shared::object_id_param!(pub InternalOrderIdParam, "id", "The order.");

/// Who asks for the refund: the owner's refund may cancel a `pending` or `confirmed` order; an
/// admin's anything not shipped yet. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(as = RefundRequest, examples(json!({"by": "owner"})))]
#[serde(deny_unknown_fields)]
pub struct RefundRequestSchema {
    /// Whose refund it is.
    by: RefundBy,
}

/// Whose refund it is.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundBy {
    /// The order's owner.
    Owner,
    /// An admin (a return).
    Admin,
}

/// The order after the refund's side of it.
#[derive(ToSchema, Serialize)]
#[schema(as = RefundedOrder)]
pub struct RefundedOrderSchema {
    /// The order as it now is.
    order: OrderSchema,
    /// Whether this call cancelled it (stock release queued, `OrderCancelled` emitted).
    cancelled: bool,
}

shared::openapi_document! {
    internal:
    info(title = "Orders (internal)",
        description = "Deliveries from the event bus (`PaymentProcessed`, `PaymentFailed`, \
                       `PaymentRefunded`; other types are ignored), and the calls of the payment \
                       service. Every call needs the internal token."),
    paths(shared::events::consumer::receive_events, super::super::events::internal_order,
        super::super::events::refund_order),
    components(schemas(shared::openapi::Acknowledged)),
    tags((name = "events", description = "Deliveries from the bus, at least once."),
        (name = "orders", description = "Orders as the other services see them."))
}
