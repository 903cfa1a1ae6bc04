//! The order aggregate: lines, address, status and payment status, and the outcomes of the
//! changes the store applies.

use super::status::{OrderStatus, PaymentStatus};
use serde::{Deserialize, Serialize};

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

/// A product and a quantity asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// Product ObjectId.
    pub product_id: String,
    /// Units.
    pub quantity: i64,
}

/// What a customer asks for: lines (one per product) and where to ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// One line per product, in the order first asked for.
    pub lines: Vec<OrderLine>,
    /// Where to ship.
    pub shipping_address: ShippingAddress,
}

impl NewOrder {
    /// The order asked for, lines naming the same product summed into the first of them.
    pub fn new(lines: Vec<OrderLine>, shipping_address: ShippingAddress) -> Self {
        let mut merged: Vec<OrderLine> = Vec::with_capacity(lines.len());
        for l in lines {
            match merged.iter_mut().find(|m| m.product_id == l.product_id) {
                Some(m) => m.quantity += l.quantity,
                None => merged.push(l),
            }
        }
        Self {
            lines: merged,
            shipping_address,
        }
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

    /// The payment status clients are shown: `refund_pending` for a paid order that was
    /// cancelled (every such order is refunded: its cancellation told payments, which refunds
    /// until it succeeds, and a payment landing after the cancellation is refunded the same way)
    /// until `PaymentRefunded` makes it `refunded`; else the stored status.
    pub fn shown_payment_status(&self) -> PaymentStatus {
        match (self.status, self.payment_status) {
            (OrderStatus::Cancelled, PaymentStatus::Completed) => PaymentStatus::RefundPending,
            (_, stored) => stored,
        }
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

/// A payment event to apply to an order, once per event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// The event's id (an event applied before is not applied again).
    pub id: String,
    /// The order it is about.
    pub order_id: String,
    /// What it does to the order.
    pub change: PaymentChange,
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
    fn a_cancelled_paid_order_shows_its_refund_pending_until_refunded() {
        use OrderStatus as O;
        use PaymentStatus as P;
        let order = |status, payment_status| Order {
            id: "a".repeat(24),
            user_id: "b".repeat(24),
            items: Vec::new(),
            total_cents: 0,
            status,
            payment_status,
            payment_id: None,
            shipping_address: ShippingAddress {
                street: "s".into(),
                city: "c".into(),
                state: "st".into(),
                zip_code: "z".into(),
                country: "co".into(),
            },
            tracking_number: None,
            notes: None,
            created_at: 0,
            updated_at: 0,
        };
        for (status, stored, shown) in [
            (O::Cancelled, P::Completed, P::RefundPending),
            (O::Cancelled, P::Refunded, P::Refunded),
            (O::Cancelled, P::Pending, P::Pending),
            (O::Confirmed, P::Completed, P::Completed),
            (O::Shipped, P::Completed, P::Completed),
            (O::Delivered, P::Refunded, P::Refunded),
        ] {
            assert_eq!(
                order(status, stored).shown_payment_status(),
                shown,
                "{status:?} {stored:?}"
            );
        }
    }

    #[test]
    fn totals_are_integer_cents() {
        let item = |p, q| OrderItem {
            product_id: "a".repeat(24),
            name: "x".into(),
            price_cents: p,
            quantity: q,
        };
        assert_eq!(Order::total_of(&[item(1999, 3), item(1, 1)]), 5998);
    }
}
