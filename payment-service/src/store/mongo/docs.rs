//! MongoDB documents of the payment store: the payment document ↔ `Payment` mapping, the
//! collection names, the startup indexes, the upgrade of data stored by earlier versions and the
//! insert that treats a duplicate as "already there".

use crate::domain::{Payment, PaymentMethod, PaymentStatus};
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};
use shared::mongo::outbox::OUTBOX;
use shared::mongo::upgrade::{to_snake_case, Upgrade};
use shared::mongo::{IndexSpec, MongoOutbox};
use shared::store::StoreError;

/// Payments, one document per order (`_id` = payment id), with the ids of the events they caused
/// (the outbox protocol's `event_ids`).
pub(super) const PAYMENTS: &str = "payments";
/// Ids of applied incoming events (`_id` = event id).
pub(super) const PROCESSED_EVENTS: &str = "processed_events";
/// Orders whose cancellation was seen (`_id` = order id).
pub(super) const CANCELLED_ORDERS: &str = "cancelled_orders";

/// A stored payment. Unknown fields (the `event_ids` array) are ignored on reading.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PaymentDoc {
    #[serde(rename = "_id")]
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

impl From<&Payment> for PaymentDoc {
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

impl TryFrom<PaymentDoc> for Payment {
    type Error = StoreError;

    fn try_from(d: PaymentDoc) -> Result<Self, StoreError> {
        Ok(Payment {
            status: PaymentStatus::parse(&d.status).ok_or_else(|| {
                StoreError::Other(format!("stored status {:?} is unknown", d.status))
            })?,
            method: PaymentMethod::parse(&d.method).ok_or_else(|| {
                StoreError::Other(format!("stored method {:?} is unknown", d.method))
            })?,
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

/// Maps an optional stored document to a payment.
pub(super) fn to_payment(d: Option<PaymentDoc>) -> Result<Option<Payment>, StoreError> {
    d.map(Payment::try_from).transpose()
}

/// The indexes: one payment per order; the worker's scan (`due_work`: one `$or` branch per status,
/// each read in `created_at` order from its own index and merged; a completed payment is only in
/// the second's range when a refund is requested; `recover` finds payments by status); the owner
/// lookup; and the outbox's.
pub(super) fn indexes() -> Vec<IndexSpec> {
    let mut specs = vec![
        IndexSpec::named(PAYMENTS, "payments_order_unique", doc! {"order_id": 1}).unique(),
        IndexSpec::named(
            PAYMENTS,
            "payments_status_created",
            doc! {"status": 1, "created_at": 1, "_id": 1},
        ),
        IndexSpec::named(
            PAYMENTS,
            "payments_refund_due",
            doc! {"status": 1, "refund_requested": 1, "created_at": 1, "_id": 1},
        ),
        IndexSpec::named(PAYMENTS, "payments_user", doc! {"user_id": 1}),
    ];
    specs.extend(MongoOutbox::indexes(&[]));
    specs
}

/// Upgrades of data stored by earlier versions, oldest first.
pub(super) fn upgrades() -> Vec<Upgrade> {
    vec![Upgrade {
        name: "payments_snake_case_fields",
        run: |db| Box::pin(snake_case_fields(db)),
    }]
}

/// Field names were camelCase, and an outbox hold was `held: true` with the `paymentId` it
/// concerned: now snake_case, and a hold names its change and aggregate as the shared outbox
/// protocol does (the change id of a payment's event is the event id).
async fn snake_case_fields(db: &Database) -> Result<(), StoreError> {
    let collections = [PAYMENTS, OUTBOX, PROCESSED_EVENTS, CANCELLED_ORDERS];
    to_snake_case(db, &collections, |collection, mut d: Document| {
        if collection == OUTBOX {
            if let Some(Bson::String(payment)) = d.remove("payment_id") {
                d.insert("aggregate_id", payment);
            }
            if d.get("held") == Some(&Bson::Boolean(true)) {
                let id = d.get("_id").cloned().unwrap_or(Bson::Null);
                d.insert("held", id);
            }
        }
        d
    })
    .await
}

/// Inserts `doc`; `Ok(false)` when a unique index says it (or its twin) is already there.
pub(super) async fn insert_new<T: Serialize + Send + Sync>(
    coll: &Collection<T>,
    doc: &T,
) -> Result<bool, StoreError> {
    match coll.insert_one(doc).await {
        Ok(_) => Ok(true),
        Err(e) if shared::mongo::is_duplicate_key(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
