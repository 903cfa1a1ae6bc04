//! Order and payment statuses in their wire spelling, and which status changes are allowed.

use strum::{EnumString, IntoStaticStr, VariantNames};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, stock reserved, waiting for payment.
    Pending,
    /// Paid.
    Confirmed,
    /// Being prepared.
    Processing,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled by the customer or an admin.
    Cancelled,
    /// Payment failed.
    Failed,
}

impl OrderStatus {
    /// Every status, in wire spelling.
    pub const ALL: &'static [&'static str] = <Self as VariantNames>::VARIANTS;

    /// The status an admin may move to `self` from (one step forward along
    /// confirmed → processing → shipped → delivered), if any.
    pub fn admin_predecessor(self) -> Option<Self> {
        match self {
            Self::Processing => Some(Self::Confirmed),
            Self::Shipped => Some(Self::Processing),
            Self::Delivered => Some(Self::Shipped),
            _ => None,
        }
    }

    /// Statuses from which an order may be cancelled (by its owner or an admin), and from which
    /// its owner's refund cancels it.
    pub const CANCELLABLE: [OrderStatus; 2] = [Self::Pending, Self::Confirmed];

    /// Statuses from which an admin's refund cancels the order: anything not shipped yet.
    pub const UNSHIPPED: [OrderStatus; 3] = [Self::Pending, Self::Confirmed, Self::Processing];
}

shared::spelled!(OrderStatus);

/// Where the order's payment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum PaymentStatus {
    /// Not paid yet.
    Pending,
    /// Being charged.
    Processing,
    /// Paid.
    Completed,
    /// Charge failed.
    Failed,
    /// Paid and refunded.
    Refunded,
    /// Paid, the order cancelled, the refund under way (until `PaymentRefunded` arrives). Shown
    /// to clients ([`super::Order::shown_payment_status`]), never stored: the store keeps
    /// `completed`, which the refund's event changes to `refunded`.
    RefundPending,
}

shared::spelled!(PaymentStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_admin_steps_go_one_forward() {
        assert_eq!(
            OrderStatus::ALL,
            [
                "pending",
                "confirmed",
                "processing",
                "shipped",
                "delivered",
                "cancelled",
                "failed"
            ]
        );
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s).map(OrderStatus::as_str), Some(*s));
        }
        assert_eq!(
            OrderStatus::Processing.admin_predecessor(),
            Some(OrderStatus::Confirmed)
        );
        assert_eq!(
            OrderStatus::Delivered.admin_predecessor(),
            Some(OrderStatus::Shipped)
        );
        assert_eq!(OrderStatus::Cancelled.admin_predecessor(), None);
        assert_eq!(OrderStatus::Confirmed.admin_predecessor(), None);
    }

    #[test]
    fn payment_statuses_are_spelled_in_snake_case() {
        let all = <PaymentStatus as VariantNames>::VARIANTS;
        assert_eq!(
            all,
            [
                "pending",
                "processing",
                "completed",
                "failed",
                "refunded",
                "refund_pending"
            ]
        );
        for s in all {
            assert_eq!(PaymentStatus::parse(s).map(PaymentStatus::as_str), Some(*s));
        }
    }
}
