//! The stored shape of a payment, the same in both backends (a row of `payments` in SQLite, a
//! document in MongoDB), and its mapping to and from the domain `Payment`.

use crate::domain::{Payment, PaymentMethod, PaymentStatus};

shared::stored_as_is! {
    /// A payment as stored: a row of `payments`, or a document (which also has the outbox
    /// protocol's `event_ids`, ignored on reading).
    pub struct StoredPayment for Payment {
        #[serde(rename = "_id", alias = "id")]
        id: String,
        order_id: String,
        user_id: String,
        amount_cents: i64,
        currency: String,
        #[serde(with = "shared::spelled::stored")]
        status: PaymentStatus,
        #[serde(with = "shared::spelled::stored")]
        method: PaymentMethod,
        attempt: i64,
        transaction_id: Option<String>,
        failure_reason: Option<String>,
        refund_cents: Option<i64>,
        refunded_at: Option<i64>,
        refund_requested: bool,
        created_at: i64,
        updated_at: i64,
    }
}
