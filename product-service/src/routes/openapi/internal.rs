//! The product service's internal API described by OpenAPI 3.1: stock reservations of orders and
//! their release, served at `GET /internal/openapi.json` (internal token) and printed by
//! `--openapi-internal`; never exposed by the gateway.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use shared::openapi::ErrorAnswer;
use utoipa::{IntoResponses, ToSchema};

shared::object_id_param!(
    pub ReservationOrderParam,
    "order_id",
    "The order whose reservation to release."
);

/// A reservation of an order's lines, all or nothing. Duplicate lines are summed. Unknown fields
/// are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = ReservationRequest,
    examples(json!({"orderId": "6b13f727b32d7cebb0000002",
        "items": [{"productId": "6b13f727b32d7cebb0000001", "quantity": 2}]}))
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReservationRequestSchema {
    /// The order the stock is for (24 hex digits); one reservation per order.
    #[schema(pattern = r"^[0-9a-fA-F]{24}$")]
    order_id: String,
    /// The lines.
    #[schema(min_items = 1, max_items = 100)]
    items: Vec<ReservationLineSchema>,
}

/// One line to reserve. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(as = ReservationLine)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReservationLineSchema {
    /// The product (24 hex digits).
    #[schema(pattern = r"^[0-9a-fA-F]{24}$")]
    product_id: String,
    /// Units.
    #[schema(minimum = 1, maximum = 1_000_000)]
    quantity: i64,
}

/// A reservation as the order service reads it.
#[derive(ToSchema, Serialize)]
#[schema(as = Reservation)]
#[serde(rename_all = "camelCase")]
pub struct ReservationSchema {
    /// The order.
    order_id: String,
    /// `reserved`, or `released` once its stock is back.
    status: String,
    /// The lines with the catalogue's name and price when reserved.
    items: Vec<ReservedItemSchema>,
}

/// A reserved line.
#[derive(ToSchema, Serialize)]
#[schema(as = ReservedItem)]
#[serde(rename_all = "camelCase")]
pub struct ReservedItemSchema {
    /// The product.
    product_id: String,
    /// Its name when reserved.
    name: String,
    /// Its unit price when reserved (at most two decimals).
    price: f64,
    /// Units.
    quantity: i64,
}

/// A released reservation.
#[derive(ToSchema, Serialize)]
#[schema(as = Released)]
#[serde(rename_all = "camelCase")]
pub struct ReleasedSchema {
    /// The order.
    order_id: String,
    /// Always `released`.
    status: String,
}

/// The refusals of a reservation.
#[derive(IntoResponses)]
pub enum ReserveRefusals {
    /// `validation_failed`: a bad body.
    #[response(status = 400)]
    Invalid(ErrorAnswer),
    /// `product_not_found`: an unknown or inactive product ("Product <id> not found").
    #[response(status = 404)]
    UnknownProduct(ErrorAnswer),
    /// `insufficient_stock` ("Insufficient stock for <name>"), or `reservation_released`: the
    /// order's reservation was already released.
    #[response(status = 409)]
    Conflict(ErrorAnswer),
}

shared::openapi_document! {
    internal:
    info(title = "Products (internal)",
        description = "Stock reservations for the order service. Every call needs the internal \
                       token."),
    paths(super::super::reservations::create_reservation,
        super::super::reservations::release_reservation),
    tags((name = "reservations", description = "Stock held for orders."))
}
