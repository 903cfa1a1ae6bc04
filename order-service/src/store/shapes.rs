//! The stored shape of an order, the same in both backends: a row of `orders` in SQLite (lines and
//! address as JSON text), a document in MongoDB (with the bookkeeping only that store keeps), and
//! its mapping to and from the domain `Order`. Field names are snake_case; lines and addresses an
//! earlier version wrote in camelCase are still read.

use crate::domain::{Order, OrderItem, OrderStatus, PaymentStatus, ShippingAddress};
use serde::{Deserialize, Serialize};
use shared::sqlite::{json_text, Stored};
use shared::store::StoreError;

/// An order as stored. `rev`, `event_ids`, `processed_events` and `idem` exist in MongoDB only:
/// `rev` counts changes (the compare-and-set guard), `event_ids` records the changes applied (the
/// outbox protocol's), `processed_events` the payment events applied, and `idem` is
/// `k:<user>:<key>` for an order placed with an idempotency key, else `o:<order id>` (always
/// present and unique, so one plain unique index enforces "one order per user and key").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredOrder {
    #[serde(rename = "_id", alias = "id")]
    pub id: String,
    pub user_id: String,
    #[serde(deserialize_with = "json_text")]
    pub items: Vec<StoredItem>,
    pub total_cents: i64,
    #[serde(with = "shared::spelled::stored")]
    pub status: OrderStatus,
    #[serde(with = "shared::spelled::stored")]
    pub payment_status: PaymentStatus,
    pub payment_id: Option<String>,
    #[serde(deserialize_with = "json_text")]
    pub shipping_address: StoredAddress,
    pub tracking_number: Option<String>,
    pub notes: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
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

impl StoredOrder {
    /// A new order, placed with idempotency key and fingerprint `key` if any, by the change
    /// `event_id`.
    pub(crate) fn new(order: &Order, key: Option<(&str, &str)>, event_id: &str) -> Self {
        Self {
            id: order.id.clone(),
            user_id: order.user_id.clone(),
            items: stored_items(&order.items),
            total_cents: order.total_cents,
            status: order.status,
            payment_status: order.payment_status,
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
            idempotency_key: key.map(|(k, _)| k.to_owned()),
            fingerprint: key.map(|(_, f)| f.to_owned()),
            rev: 0,
            event_ids: vec![event_id.to_owned()],
            processed_events: Vec::new(),
        }
    }
}

/// The unique `idem` value of an order placed by `user_id` with idempotency key `key`.
pub(crate) fn idem_key(user_id: &str, key: &str) -> String {
    format!("k:{user_id}:{key}")
}

impl TryFrom<StoredOrder> for Order {
    type Error = StoreError;

    fn try_from(s: StoredOrder) -> Result<Self, StoreError> {
        // `refund_pending` is only ever shown, never stored.
        if s.payment_status == PaymentStatus::RefundPending {
            let shown = PaymentStatus::RefundPending.as_str();
            return Err(StoreError::invalid("payment status", shown));
        }
        Ok(Order {
            id: s.id,
            user_id: s.user_id,
            items: s.items.into_iter().map(Into::into).collect(),
            total_cents: s.total_cents,
            status: s.status,
            payment_status: s.payment_status,
            payment_id: s.payment_id,
            shipping_address: s.shipping_address.into(),
            tracking_number: s.tracking_number,
            notes: s.notes,
            created_at: s.created_at,
            updated_at: s.updated_at,
        })
    }
}

impl Stored for Order {
    type Row = StoredOrder;
}

/// One stored order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredItem {
    #[serde(alias = "productId")]
    product_id: String,
    name: String,
    #[serde(alias = "priceCents")]
    price_cents: i64,
    quantity: i64,
}

impl From<&OrderItem> for StoredItem {
    fn from(i: &OrderItem) -> Self {
        Self {
            product_id: i.product_id.clone(),
            name: i.name.clone(),
            price_cents: i.price_cents,
            quantity: i.quantity,
        }
    }
}

impl From<StoredItem> for OrderItem {
    fn from(i: StoredItem) -> Self {
        Self {
            product_id: i.product_id,
            name: i.name,
            price_cents: i.price_cents,
            quantity: i.quantity,
        }
    }
}

/// A stored shipping address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAddress {
    street: String,
    city: String,
    state: String,
    #[serde(alias = "zipCode")]
    zip_code: String,
    country: String,
}

impl From<&ShippingAddress> for StoredAddress {
    fn from(a: &ShippingAddress) -> Self {
        Self {
            street: a.street.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            zip_code: a.zip_code.clone(),
            country: a.country.clone(),
        }
    }
}

impl From<StoredAddress> for ShippingAddress {
    fn from(a: StoredAddress) -> Self {
        Self {
            street: a.street,
            city: a.city,
            state: a.state,
            zip_code: a.zip_code,
            country: a.country,
        }
    }
}

/// The stored lines of `items`.
pub(crate) fn stored_items(items: &[OrderItem]) -> Vec<StoredItem> {
    items.iter().map(StoredItem::from).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_and_addresses_are_stored_snake_case_and_camel_case_rows_still_read() {
        let item = OrderItem {
            product_id: "p".into(),
            name: "n".into(),
            price_cents: 5,
            quantity: 2,
        };
        let stored = serde_json::to_value(stored_items(std::slice::from_ref(&item))).unwrap();
        assert_eq!(
            stored,
            serde_json::json!([{"product_id": "p", "name": "n", "price_cents": 5, "quantity": 2}])
        );
        let old: Vec<StoredItem> = serde_json::from_str(
            r#"[{"productId": "p", "name": "n", "priceCents": 5, "quantity": 2}]"#,
        )
        .unwrap();
        assert_eq!(OrderItem::from(old[0].clone()), item);
        let old: StoredAddress = serde_json::from_str(
            r#"{"street": "s", "city": "c", "state": "t", "zipCode": "z", "country": "k"}"#,
        )
        .unwrap();
        let address = ShippingAddress::from(old);
        assert_eq!(address.zip_code, "z");
        let stored = serde_json::to_value(StoredAddress::from(&address)).unwrap();
        assert_eq!(stored["zip_code"], "z");
    }

    #[test]
    fn statuses_are_stored_as_their_spellings_and_a_shown_only_one_is_refused() {
        let address = ShippingAddress {
            street: "s".into(),
            city: "c".into(),
            state: "t".into(),
            zip_code: "z".into(),
            country: "k".into(),
        };
        let mut order = Order {
            id: "o".into(),
            user_id: "u".into(),
            items: Vec::new(),
            total_cents: 0,
            status: OrderStatus::Confirmed,
            payment_status: PaymentStatus::Completed,
            payment_id: None,
            shipping_address: address,
            tracking_number: None,
            notes: None,
            created_at: 1,
            updated_at: 2,
        };
        let stored = serde_json::to_value(StoredOrder::new(&order, None, "e")).unwrap();
        assert_eq!(
            (&stored["status"], &stored["payment_status"]),
            (
                &serde_json::json!("confirmed"),
                &serde_json::json!("completed")
            )
        );
        let read: StoredOrder = serde_json::from_value(stored).unwrap();
        assert_eq!(Order::try_from(read).unwrap(), order);
        order.payment_status = PaymentStatus::RefundPending;
        let shown_only = StoredOrder::new(&order, None, "e");
        let err = Order::try_from(shown_only).unwrap_err().to_string();
        assert!(err.contains("refund_pending"), "{err}");
    }
}
