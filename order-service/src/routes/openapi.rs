//! The order API described by OpenAPI 3.1: the client routes with their parameters, the
//! `Idempotency-Key` header, bodies and limits, answers and error codes, served at
//! `GET /openapi.json` on the service's own port. The limits are the wire's, checked against the
//! document by the tests (`openapi/tests.rs`). The schema types describe; the wire parses.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use super::orders;
use crate::domain::{OrderStatus, PaymentStatus};
use serde::{Deserialize, Serialize};
use shared::openapi::ErrorAnswer;
use utoipa::{IntoParams, IntoResponses, ToSchema};

shared::object_id_param!(pub OrderIdParam, "id", "The order's id (24 hex digits).");

/// An order as its owner (and admins) see it.
#[derive(ToSchema, Serialize)]
#[schema(as = Order)]
#[serde(rename_all = "camelCase")]
pub struct OrderSchema {
    /// The order's id (24 hex digits).
    #[serde(rename = "_id")]
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    /// The customer.
    user_id: String,
    /// The lines, with name and price as reserved.
    items: Vec<OrderItemSchema>,
    /// The sum of the lines, with at most 2 decimals.
    total_amount: f64,
    status: OrderStatusSchema,
    /// `refund_pending` once a paid order is cancelled, until its refund is done (`refunded`).
    payment_status: PaymentStatusSchema,
    shipping_address: AddressSchema,
    /// Once paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
    /// Once shipped, when the admin gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    tracking_number: Option<String>,
    /// Why the payment failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// One line of an order.
#[derive(ToSchema, Serialize)]
#[schema(as = OrderItem)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemSchema {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    product_id: String,
    /// The product's name when ordered.
    name: String,
    /// The unit price when ordered.
    price: f64,
    quantity: i64,
}

shared::spelled_schema!(
    /// Where an order is.
    OrderStatusSchema as "OrderStatus" = OrderStatus::ALL
);

shared::spelled_schema!(
    /// Where an order's payment is.
    PaymentStatusSchema as "OrderPaymentStatus" = <PaymentStatus as strum::VariantNames>::VARIANTS
);

/// A shipping address (every field trimmed, 1–200 characters). Unknown fields are refused.
#[derive(ToSchema, Serialize, Deserialize)]
#[schema(as = ShippingAddress)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressSchema {
    #[schema(min_length = 1, max_length = 200)]
    street: String,
    #[schema(min_length = 1, max_length = 200)]
    city: String,
    #[schema(min_length = 1, max_length = 200)]
    state: String,
    #[schema(min_length = 1, max_length = 200)]
    zip_code: String,
    #[schema(min_length = 1, max_length = 200)]
    country: String,
}

/// An order to place: lines naming one product more than once are summed. Unknown fields are
/// refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = NewOrder,
    examples(json!({
        "items": [
            {
                "productId": "6b13f727b32d7cebb0000001",
                "quantity": 1
            }
        ],
        "shippingAddress": {
            "street": "123 Main St",
            "city": "Mumbai",
            "state": "Maharashtra",
            "zipCode": "400001",
            "country": "India"
        }
    }))
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOrderSchema {
    #[schema(min_items = 1, max_items = 50)]
    items: Vec<OrderLineSchema>,
    shipping_address: AddressSchema,
}

/// A product and a quantity.
#[derive(ToSchema, Deserialize)]
#[schema(as = OrderLine)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderLineSchema {
    /// The product's id (24 hex digits).
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    product_id: String,
    #[schema(minimum = 1, maximum = 1000)]
    quantity: i64,
}

/// One step along confirmed → processing → shipped → delivered. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = StatusChange,
    examples(json!({"status": "processing"}))
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusChangeSchema {
    /// The next status (only the one after the order's current one is accepted).
    status: OrderStatusSchema,
    /// The carrier's tracking number.
    #[schema(min_length = 1, max_length = 100)]
    tracking_number: Option<String>,
}

/// The list's filters (after `page` and `limit`; unknown parameters are refused).
#[derive(IntoParams, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    /// Only orders in this status.
    #[param(inline)]
    status: Option<OrderStatusSchema>,
    /// Only this user's orders (admins; anyone else may name only themselves).
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    user_id: Option<String>,
}

/// The `Idempotency-Key` header of `POST /api/orders`.
#[derive(IntoParams, Deserialize)]
#[into_params(parameter_in = Header)]
pub struct PlaceHeaders {
    /// 1–200 visible ASCII characters. The same key with the same body answers the order it
    /// placed (header `idempotent-replayed: true`); with another body, 422
    /// `idempotency_key_reused`.
    #[serde(rename = "Idempotency-Key")]
    #[param(min_length = 1, max_length = 200)]
    idempotency_key: Option<String>,
}

/// The refusals of placing an order.
#[derive(IntoResponses)]
pub enum PlaceRefusals {
    /// `validation_failed` (every bad field listed), `malformed_json` or
    /// `invalid_idempotency_key`.
    #[response(status = 400)]
    Invalid(ErrorAnswer),
    /// `product_not_found`: a line names no active product.
    #[response(status = 404)]
    UnknownProduct(ErrorAnswer),
    /// `insufficient_stock`.
    #[response(status = 409)]
    OutOfStock(ErrorAnswer),
    /// `payload_too_large` (64 KiB).
    #[response(status = 413)]
    TooLarge(ErrorAnswer),
    /// `idempotency_key_reused` with another body.
    #[response(status = 422)]
    KeyReused(ErrorAnswer),
    /// `service_unavailable`: the product service cannot be reached (`Retry-After`).
    #[response(status = 503)]
    Unavailable(ErrorAnswer),
}

shared::openapi_document! {
    info(
        title = "Orders",
        description = "Placing orders (stock reserved at once), reading and cancelling them, and \
                       (admins) moving them along fulfilment.",
    ),
    paths(orders::create_order, orders::list_orders, orders::get_order, orders::cancel_order,
        orders::update_status),
    tags((name = "orders", description = "A customer's orders; admins see all."))
}

pub mod internal;

#[cfg(test)]
mod tests;
