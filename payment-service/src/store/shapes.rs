//! The stored shape of a payment, the same in both backends (a row of `payments` in SQLite, a
//! document in MongoDB), and its mapping to and from the domain `Payment`.

use crate::domain::Payment;
use serde::{Deserialize, Serialize};
use shared::sqlite::Stored;
use shared::store::{parse_stored, StoreError};

/// A payment as stored: a row of `payments`, or a document (which also has the outbox
/// protocol's `event_ids`, ignored on reading).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredPayment {
    #[serde(rename = "_id", alias = "id")]
    id: String,
    order_id: String,
    user_id: String,
    amount_cents: i64,
    currency: String,
    status: String,
    method: String,
    attempt: i64,
    transaction_id: Option<String>,
    failure_reason: Option<String>,
    refund_cents: Option<i64>,
    refunded_at: Option<i64>,
    refund_requested: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<&Payment> for StoredPayment {
    fn from(p: &Payment) -> Self {
        Self {
            id: p.id.clone(),
            order_id: p.order_id.clone(),
            user_id: p.user_id.clone(),
            amount_cents: p.amount_cents,
            currency: p.currency.clone(),
            status: p.status.as_str().to_string(),
            method: p.method.as_str().to_string(),
            attempt: p.attempt,
            transaction_id: p.transaction_id.clone(),
            failure_reason: p.failure_reason.clone(),
            refund_cents: p.refund_cents,
            refunded_at: p.refunded_at,
            refund_requested: p.refund_requested,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl TryFrom<StoredPayment> for Payment {
    type Error = StoreError;

    fn try_from(d: StoredPayment) -> Result<Self, StoreError> {
        Ok(Payment {
            status: parse_stored("status", &d.status)?,
            method: parse_stored("method", &d.method)?,
            id: d.id,
            order_id: d.order_id,
            user_id: d.user_id,
            amount_cents: d.amount_cents,
            currency: d.currency,
            attempt: d.attempt,
            transaction_id: d.transaction_id,
            failure_reason: d.failure_reason,
            refund_cents: d.refund_cents,
            refunded_at: d.refunded_at,
            refund_requested: d.refund_requested,
            created_at: d.created_at,
            updated_at: d.updated_at,
        })
    }
}

impl Stored for Payment {
    type Row = StoredPayment;
}

/// Maps an optional stored document to a payment.
pub(super) fn to_payment(d: Option<StoredPayment>) -> Result<Option<Payment>, StoreError> {
    d.map(Payment::try_from).transpose()
}
