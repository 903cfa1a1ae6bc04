//! The order aggregate: lines, address, status and payment status, the allowed transitions, the
//! wire JSON clients see, and the `data` of the events the service emits.

use super::status::{OrderStatus, PaymentStatus};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared::money::cents_to_json;
use shared::store::iso_ms;

/// One line of an order; name and price come from the product service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// Product ObjectId.
    pub product_id: String,
    /// Product name when ordered.
    pub name: String,
    /// Unit price in cents when ordered.
    pub price_cents: i64,
    /// Units.
    pub quantity: i64,
}

impl OrderItem {
    /// The wire JSON (`price` as a money number).
    pub fn to_json(&self) -> Value {
        json!({
            "productId": self.product_id,
            "name": self.name,
            "price": cents_to_json(self.price_cents),
            "quantity": self.quantity,
        })
    }
}

/// The shipping address, each field a trimmed string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingAddress {
    /// Street and number.
    pub street: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Postal code.
    pub zip_code: String,
    /// Country.
    pub country: String,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// ObjectId.
    pub id: String,
    /// Owner's user id.
    pub user_id: String,
    /// Lines (one per product).
    pub items: Vec<OrderItem>,
    /// Sum of price × quantity, in cents.
    pub total_cents: i64,
    /// Order status.
    pub status: OrderStatus,
    /// Payment status.
    pub payment_status: PaymentStatus,
    /// Payment id once paid.
    pub payment_id: Option<String>,
    /// Where to ship.
    pub shipping_address: ShippingAddress,
    /// Carrier tracking number.
    pub tracking_number: Option<String>,
    /// Notes (the payment failure reason).
    pub notes: Option<String>,
    /// Created, UTC ms.
    pub created_at: i64,
    /// Last changed, UTC ms.
    pub updated_at: i64,
}

impl Order {
    /// Total of `items` in cents.
    pub fn total_of(items: &[OrderItem]) -> i64 {
        items.iter().map(|i| i.price_cents * i.quantity).sum()
    }

    /// The order JSON clients and other services see.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "_id": self.id,
            "userId": self.user_id,
            "items": self.items.iter().map(OrderItem::to_json).collect::<Vec<_>>(),
            "totalAmount": cents_to_json(self.total_cents),
            "status": self.status.as_str(),
            "paymentStatus": self.payment_status.as_str(),
            "shippingAddress": self.shipping_address,
            "createdAt": iso_ms(self.created_at),
            "updatedAt": iso_ms(self.updated_at),
        });
        for (key, value) in [
            ("paymentId", &self.payment_id),
            ("trackingNumber", &self.tracking_number),
            ("notes", &self.notes),
        ] {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        v
    }

    /// `OrderCreated` data.
    pub fn created_event(&self) -> Value {
        json!({
            "orderId": self.id,
            "userId": self.user_id,
            "items": self.items.iter().map(OrderItem::to_json).collect::<Vec<_>>(),
            "totalAmount": cents_to_json(self.total_cents),
        })
    }

    /// `OrderCancelled` data.
    pub fn cancelled_event(&self) -> Value {
        json!({
            "orderId": self.id,
            "userId": self.user_id,
            "items": self.items.iter().map(OrderItem::to_json).collect::<Vec<_>>(),
            "paymentStatus": self.payment_status.as_str(),
        })
    }

    /// `OrderUpdated` data.
    pub fn updated_event(&self) -> Value {
        json!({
            "orderId": self.id,
            "status": self.status.as_str(),
            "paymentStatus": self.payment_status.as_str(),
        })
    }
}

/// The effect of a payment event on an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentChange {
    /// `PaymentProcessed`: a pending order becomes confirmed and paid.
    Processed {
        /// The payment's id.
        payment_id: String,
    },
    /// `PaymentFailed`: a pending order fails (its stock is released).
    Failed {
        /// Why, stored as the order's notes.
        reason: String,
    },
    /// `PaymentRefunded`: the payment status becomes refunded.
    Refunded,
}

/// The outcome of a conditional change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Applied; the order after the change.
    Applied(Order),
    /// No such order (or not visible to the caller).
    NotFound,
    /// The order exists but its state does not allow the change.
    Refused(Order),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_integer_cents() {
        let item = |p, q| OrderItem {
            product_id: "a".repeat(24),
            name: "x".into(),
            price_cents: p,
            quantity: q,
        };
        assert_eq!(Order::total_of(&[item(1999, 3), item(1, 1)]), 5998);
        assert_eq!(item(1999, 3).to_json()["price"], json!(19.99));
    }
}
