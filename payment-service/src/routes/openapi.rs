//! The payment API described by OpenAPI 3.1: charging an order, reading its payment and refunding
//! it, with bodies, answers and error codes, served at `GET /openapi.json` on the service's own
//! port and checked against the router and the wire by the tests (`openapi/tests.rs`). The schema
//! types describe; the wire parses.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use super::payments;
use crate::domain::{PaymentMethod, PaymentStatus};
use serde::{Deserialize, Serialize};
use shared::openapi::ErrorAnswer;
use utoipa::{IntoResponses, ToSchema};

shared::object_id_param!(pub OrderIdParam, "order_id", "The order's id (24 hex digits).");
shared::object_id_param!(pub PaymentIdParam, "id", "The payment's id (24 hex digits).");

/// An order's payment as its owner (and admins) see it.
#[derive(ToSchema, Serialize)]
#[schema(as = Payment)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSchema {
    /// The payment's id (24 hex digits).
    #[serde(rename = "_id")]
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    /// The order it pays (one payment per order).
    order_id: String,
    user_id: String,
    /// The order's total, with at most 2 decimals.
    amount: f64,
    /// `USD`.
    currency: String,
    status: PaymentStatusSchema,
    payment_method: PaymentMethodSchema,
    /// The provider's charge, once charged.
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<String>,
    /// Why the last charge failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
    /// Once refunded.
    #[serde(skip_serializing_if = "Option::is_none")]
    refund_amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    refunded_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

shared::spelled_schema!(
    /// Where a payment is.
    PaymentStatusSchema as "PaymentStatus" = <PaymentStatus as strum::VariantNames>::VARIANTS
);

shared::spelled_schema!(
    /// How it is paid.
    PaymentMethodSchema as "PaymentMethod" = PaymentMethod::NAMES
);

/// A charge asked for. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = ChargeRequest,
    examples(json!({"orderId": "6b13f727b32d7cebb0000002", "paymentMethod": "credit_card"}))
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargeSchema {
    /// The order to pay (the caller's own; any for admins).
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    order_id: String,
    /// Default `credit_card`.
    payment_method: Option<PaymentMethodSchema>,
    /// When given, it must be the order's total (else 400 `amount_mismatch`).
    #[schema(minimum = 0, maximum = 10_000_000_000_000.0, multiple_of = 0.01)]
    amount: Option<f64>,
}

/// The refusals of a charge.
#[derive(IntoResponses)]
pub enum ChargeRefusals {
    /// `validation_failed`, `malformed_json` or `amount_mismatch`.
    #[response(status = 400)]
    Invalid(ErrorAnswer),
    /// `order_not_found` (also another user's order).
    #[response(status = 404)]
    UnknownOrder(ErrorAnswer),
    /// `payment_already_completed`, or `order_not_payable` (cancelled, failed or refunded).
    #[response(status = 409)]
    NotPayable(ErrorAnswer),
}

shared::openapi_document! {
    info(
        title = "Payments",
        description = "Charging an order (once, whatever the retries), reading its payment, and \
                       refunding it.",
    ),
    paths(payments::process_payment, payments::get_payment, payments::refund_payment),
    tags((name = "payments", description = "One payment per order."))
}

pub mod internal;

#[cfg(test)]
mod tests;
