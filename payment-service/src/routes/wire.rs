//! The payment API's request body and the payment JSON clients see (the original's field names,
//! money as numbers).

use crate::domain::{Payment, PaymentMethod};
use serde_json::{json, Value};
use shared::extract::{BodyLimits, FromJson};
use shared::money::cents_to_json;
use shared::store::iso_ms;
use shared::validate::Validator;
use shared::ApiError;

/// `POST /api/payments/process` body.
#[derive(Debug)]
pub struct ProcessPaymentRequest {
    /// The order to pay.
    pub order_id: String,
    /// How to pay (default `credit_card`).
    pub method: Option<PaymentMethod>,
    /// The amount the client expects to pay, in cents (must equal the order total).
    pub amount_cents: Option<i64>,
}

impl FromJson for ProcessPaymentRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let order_id = v.object_id("orderId");
        let method = v.one_of("paymentMethod", PaymentMethod::NAMES, false);
        let amount_cents = v.opt_money("amount", i64::MAX / 100);
        v.finish()?;
        Ok(Self {
            order_id: order_id.unwrap_or_default(),
            method: method.as_deref().and_then(PaymentMethod::parse),
            amount_cents,
        })
    }
}

/// The JSON clients see.
pub fn payment_json(payment: &Payment) -> Value {
    let mut v = json!({
        "_id": payment.id,
        "orderId": payment.order_id,
        "userId": payment.user_id,
        "amount": cents_to_json(payment.amount_cents),
        "currency": payment.currency,
        "status": payment.status.as_str(),
        "paymentMethod": payment.method.as_str(),
        "createdAt": iso_ms(payment.created_at),
        "updatedAt": iso_ms(payment.updated_at),
    });
    if let Some(t) = &payment.transaction_id {
        v["transactionId"] = json!(t);
    }
    if let Some(r) = &payment.failure_reason {
        v["failureReason"] = json!(r);
    }
    if let Some(c) = payment.refund_cents {
        v["refundAmount"] = cents_to_json(c);
    }
    if let Some(at) = payment.refunded_at {
        v["refundedAt"] = json!(iso_ms(at));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_the_original_field_names_and_money_numbers() {
        let v = payment_json(&Payment::sample());
        assert_eq!(v["amount"], json!(123.45));
        assert_eq!(v["currency"], "USD");
        assert_eq!(v["status"], "pending");
        assert_eq!(v["paymentMethod"], "paypal");
        assert!(v.get("transactionId").is_none() && v.get("refundAmount").is_none());
    }
}
