//! A payment of one order: its statuses, methods and the provider key of each attempt.

use strum::{EnumString, IntoStaticStr, VariantNames};

/// Where a payment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum PaymentStatus {
    /// Recorded, not yet charged.
    Pending,
    /// A worker or request is charging it.
    Processing,
    /// Charged.
    Completed,
    /// Charge failed for good (declined or out of retry budget).
    Failed,
    /// A refund is under way.
    Refunding,
    /// Refunded in full.
    Refunded,
    /// The order was cancelled before anything was charged.
    Cancelled,
}

shared::spelled!(PaymentStatus);

/// How the customer pays (the original's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum PaymentMethod {
    /// `credit_card` (the default).
    CreditCard,
    /// `debit_card`.
    DebitCard,
    /// `paypal`.
    Paypal,
    /// `stripe`.
    Stripe,
    /// `cash`.
    Cash,
}

impl PaymentMethod {
    /// Every wire name, for validation messages.
    pub const NAMES: &'static [&'static str] = <Self as VariantNames>::VARIANTS;
}

shared::spelled!(PaymentMethod);

/// A payment to record: one per order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// The order it pays.
    pub order_id: String,
    /// The order's owner.
    pub user_id: String,
    /// The order total in cents.
    pub amount_cents: i64,
    /// How it is paid.
    pub method: PaymentMethod,
}

/// A stored payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// ObjectId hex.
    pub id: String,
    /// The order it pays (unique).
    pub order_id: String,
    /// The order's owner.
    pub user_id: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// Always `USD` (the original's only currency).
    pub currency: String,
    /// Current status.
    pub status: PaymentStatus,
    /// How it is paid.
    pub method: PaymentMethod,
    /// Charge attempt number: 0 first, +1 each time a failed payment is tried again.
    pub attempt: i64,
    /// The provider's charge id once completed.
    pub transaction_id: Option<String>,
    /// Why the charge failed.
    pub failure_reason: Option<String>,
    /// Amount refunded, in cents.
    pub refund_cents: Option<i64>,
    /// When it was refunded (UTC ms).
    pub refunded_at: Option<i64>,
    /// The order was cancelled: refund as soon as a charge completes.
    pub refund_requested: bool,
    /// Created (UTC ms).
    pub created_at: i64,
    /// Last change (UTC ms).
    pub updated_at: i64,
}

impl Payment {
    /// A fresh payment in `status` for `new`.
    pub fn from_new(new: NewPayment, status: PaymentStatus) -> Self {
        let now = shared::store::now_ms();
        Self {
            id: shared::ids::new_object_id(),
            order_id: new.order_id,
            user_id: new.user_id,
            amount_cents: new.amount_cents,
            currency: "USD".to_string(),
            status,
            method: new.method,
            attempt: 0,
            transaction_id: None,
            failure_reason: None,
            refund_cents: None,
            refunded_at: None,
            refund_requested: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// The provider idempotency key of the current attempt: the payment id for the first one, so
    /// one logical charge is at most one provider charge, however often it is retried or resumed.
    pub fn charge_key(&self) -> String {
        if self.attempt == 0 {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.attempt)
        }
    }

    /// The provider idempotency key of this payment's refund.
    pub fn refund_key(&self) -> String {
        format!("refund-{}", self.id)
    }

    /// Whether `user` may see or act on it.
    pub fn visible_to(&self, user_id: &str, is_admin: bool) -> bool {
        is_admin || self.user_id == user_id
    }
}

#[cfg(test)]
impl Payment {
    /// A pending $123.45 PayPal payment, for tests.
    pub(crate) fn sample() -> Self {
        Payment::from_new(
            NewPayment {
                order_id: "a".repeat(24),
                user_id: "b".repeat(24),
                amount_cents: 12_345,
                method: PaymentMethod::Paypal,
            },
            PaymentStatus::Pending,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn payment() -> Payment {
        Payment::sample()
    }

    #[test]
    fn each_attempt_has_its_own_provider_key() {
        let mut p = payment();
        assert_eq!(p.charge_key(), p.id);
        p.attempt = 2;
        assert_eq!(p.charge_key(), format!("{}-2", p.id));
    }

    #[test]
    fn statuses_and_methods_round_trip() {
        for s in [
            "pending",
            "processing",
            "completed",
            "failed",
            "refunding",
            "refunded",
            "cancelled",
        ] {
            assert_eq!(PaymentStatus::parse(s).unwrap().as_str(), s);
        }
        assert_eq!(
            PaymentMethod::NAMES,
            ["credit_card", "debit_card", "paypal", "stripe", "cash"]
        );
        for m in PaymentMethod::NAMES {
            assert_eq!(PaymentMethod::parse(m).unwrap().as_str(), *m);
        }
        assert!(PaymentMethod::parse("bitcoin").is_none());
    }
}
