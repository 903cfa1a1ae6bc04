//! BSON shapes of the order database: the order document (with the ids of the changes and of
//! the payment events applied to it), and the mapping to and from the domain `Order`.

use super::super::shapes::{stored_items, StoredAddress, StoredItem};
use crate::domain::{Order, OrderStatus, PaymentStatus};
use mongodb::bson::{self, doc, Document};
use serde::{Deserialize, Serialize};
use shared::mongo::{IndexSpec, MongoOutbox};
use shared::store::StoreError;

/// Collection names.
pub(super) const ORDERS: &str = "orders";
pub(super) const RELEASES: &str = "release_tasks";
pub(super) const PROCESSED: &str = "processed_events";

/// The stored order document. `rev` counts changes (the compare-and-set guard); `event_ids`
/// records the changes applied (the outbox protocol's), `processed_events` the payment events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OrderDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub items: Vec<StoredItem>,
    pub total_cents: i64,
    pub status: String,
    pub payment_status: String,
    pub payment_id: Option<String>,
    pub shipping_address: StoredAddress,
    pub tracking_number: Option<String>,
    pub notes: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// `k:<user>:<key>` for an order placed with an idempotency key, else `o:<order id>`: always
    /// present and unique, so one plain unique index enforces "one order per user and key".
    pub idem: String,
    pub idempotency_key: Option<String>,
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub rev: i64,
    #[serde(default)]
    pub event_ids: Vec<String>,
    #[serde(default)]
    pub processed_events: Vec<String>,
}

/// The unique `idem` value of an order placed by `user_id` with idempotency key `key`.
pub(super) fn idem_key(user_id: &str, key: &str) -> String {
    format!("k:{user_id}:{key}")
}

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is invalid: {value:?}"))
}

impl OrderDoc {
    /// A new document for `order`, recording its creation `event_id`.
    pub(super) fn document(
        order: &Order,
        key: Option<(&str, &str)>,
        event_id: &str,
    ) -> Result<Document, StoreError> {
        let d = OrderDoc {
            id: order.id.clone(),
            user_id: order.user_id.clone(),
            items: stored_items(&order.items),
            total_cents: order.total_cents,
            status: order.status.as_str().into(),
            payment_status: order.payment_status.as_str().into(),
            payment_id: order.payment_id.clone(),
            shipping_address: StoredAddress::from(&order.shipping_address),
            tracking_number: order.tracking_number.clone(),
            notes: order.notes.clone(),
            created_at: order.created_at,
            updated_at: order.updated_at,
            idem: match key {
                Some((k, _)) => idem_key(&order.user_id, k),
                None => format!("o:{}", order.id),
            },
            idempotency_key: key.map(|(k, _)| k.to_string()),
            fingerprint: key.map(|(_, f)| f.to_string()),
            rev: 0,
            event_ids: vec![event_id.to_owned()],
            processed_events: Vec::new(),
        };
        Ok(bson::to_document(&d)?)
    }

    /// Decodes a stored document.
    pub(super) fn decode(d: Document) -> Result<Self, StoreError> {
        Ok(bson::from_document(d)?)
    }

    /// The domain order.
    pub(super) fn order(&self) -> Result<Order, StoreError> {
        Ok(Order {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            items: self.items.iter().cloned().map(Into::into).collect(),
            total_cents: self.total_cents,
            status: OrderStatus::parse(&self.status).ok_or_else(|| bad("status", &self.status))?,
            payment_status: PaymentStatus::parse(&self.payment_status)
                .ok_or_else(|| bad("payment status", &self.payment_status))?,
            payment_id: self.payment_id.clone(),
            shipping_address: self.shipping_address.clone().into(),
            tracking_number: self.tracking_number.clone(),
            notes: self.notes.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The `$set` of every mutable order field, from the order after a change.
pub(super) fn mutable_fields(order: &Order) -> Document {
    doc! {
        "status": order.status.as_str(),
        "payment_status": order.payment_status.as_str(),
        "payment_id": order.payment_id.clone(),
        "tracking_number": order.tracking_number.clone(),
        "notes": order.notes.clone(),
        "updated_at": order.updated_at,
    }
}

/// The indexes of each collection: the unique `idem`; one per list (its equality fields, then its
/// sort, newest first with `_id` breaking ties); the due releases; the outbox's.
pub(super) fn indexes() -> Vec<IndexSpec> {
    let mut specs = vec![
        IndexSpec::keys(ORDERS, doc! {"idem": 1}).unique(),
        IndexSpec::keys(ORDERS, doc! {"user_id": 1, "created_at": -1, "_id": -1}),
        IndexSpec::keys(
            ORDERS,
            doc! {"user_id": 1, "status": 1, "created_at": -1, "_id": -1},
        ),
        IndexSpec::keys(ORDERS, doc! {"status": 1, "created_at": -1, "_id": -1}),
        IndexSpec::keys(ORDERS, doc! {"created_at": -1, "_id": -1}),
        IndexSpec::keys(
            RELEASES,
            doc! {"done_at": 1, "held": 1, "next_attempt_at": 1, "_id": 1},
        ),
        IndexSpec::keys(RELEASES, doc! {"order_id": 1}),
    ];
    specs.extend(MongoOutbox::indexes(&[RELEASES]));
    specs
}
