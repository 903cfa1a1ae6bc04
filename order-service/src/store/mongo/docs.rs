//! BSON shapes of the order database: the order document (with its embedded, not yet flushed
//! events and the bookkeeping fields), and the mapping to and from the domain `Order`.

use crate::domain::{Order, OrderItem, OrderStatus, PaymentStatus, ShippingAddress};
use mongodb::bson::{self, doc, Document};
use serde::{Deserialize, Serialize};
use shared::events::EventEnvelope;
use shared::mongo::IndexSpec;
use shared::store::StoreError;

/// Collection names.
pub(super) const ORDERS: &str = "orders";
pub(super) const OUTBOX: &str = "outbox";
pub(super) const RELEASES: &str = "release_tasks";
pub(super) const PROCESSED: &str = "processed_events";

/// An event written into the order document together with the change that caused it; moved to the
/// `outbox` collection right after (or by the recovery sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Embedded {
    /// The event id (the `_id` it gets in the outbox).
    pub id: String,
    /// When the change happened, UTC ms (the outbox orders by it).
    pub at: i64,
    /// The envelope as JSON, exactly as the SQLite outbox stores it.
    pub event: String,
}

impl Embedded {
    pub(super) fn new(event: &EventEnvelope, at: i64) -> Result<Self, StoreError> {
        Ok(Self {
            id: event.id.clone(),
            at,
            event: serde_json::to_string(event)?,
        })
    }
}

/// The stored order document. `rev` counts changes (the compare-and-set guard), `dirty` marks a
/// document whose embedded events or stock release have not been flushed yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub items: Vec<OrderItem>,
    pub total_cents: i64,
    pub status: String,
    pub payment_status: String,
    pub payment_id: Option<String>,
    pub shipping_address: ShippingAddress,
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
    pub dirty: bool,
    #[serde(default)]
    pub outbox: Vec<Embedded>,
    #[serde(default)]
    pub release_pending: bool,
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
    /// A new document for `order`, with its creation event embedded.
    pub(super) fn document(
        order: &Order,
        key: Option<(&str, &str)>,
        event: Embedded,
    ) -> Result<Document, StoreError> {
        let d = OrderDoc {
            id: order.id.clone(),
            user_id: order.user_id.clone(),
            items: order.items.clone(),
            total_cents: order.total_cents,
            status: order.status.as_str().into(),
            payment_status: order.payment_status.as_str().into(),
            payment_id: order.payment_id.clone(),
            shipping_address: order.shipping_address.clone(),
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
            dirty: true,
            outbox: vec![event],
            release_pending: false,
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
            items: self.items.clone(),
            total_cents: self.total_cents,
            status: OrderStatus::parse(&self.status).ok_or_else(|| bad("status", &self.status))?,
            payment_status: PaymentStatus::parse(&self.payment_status)
                .ok_or_else(|| bad("payment status", &self.payment_status))?,
            payment_id: self.payment_id.clone(),
            shipping_address: self.shipping_address.clone(),
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
        "paymentStatus": order.payment_status.as_str(),
        "paymentId": order.payment_id.clone(),
        "trackingNumber": order.tracking_number.clone(),
        "notes": order.notes.clone(),
        "updatedAt": order.updated_at,
    }
}

/// The indexes of each collection: the unique `idem`; one per list (its equality fields, then its
/// sort, newest first with `_id` breaking ties); the dirty sweep; the due outbox events (not yet
/// delivered, oldest first, due time checked from the index); the due releases.
pub(super) fn indexes() -> Vec<IndexSpec> {
    vec![
        IndexSpec::keys(ORDERS, doc! {"idem": 1}).unique(),
        IndexSpec::keys(ORDERS, doc! {"userId": 1, "createdAt": -1, "_id": -1}),
        IndexSpec::keys(
            ORDERS,
            doc! {"userId": 1, "status": 1, "createdAt": -1, "_id": -1},
        ),
        IndexSpec::keys(ORDERS, doc! {"status": 1, "createdAt": -1, "_id": -1}),
        IndexSpec::keys(ORDERS, doc! {"createdAt": -1, "_id": -1}),
        IndexSpec::keys(ORDERS, doc! {"dirty": 1}),
        IndexSpec::keys(
            OUTBOX,
            doc! {"delivered": 1, "createdAt": 1, "_id": 1, "nextAttemptAt": 1},
        ),
        IndexSpec::keys(RELEASES, doc! {"done": 1, "nextAttemptAt": 1, "_id": 1}),
    ]
}
