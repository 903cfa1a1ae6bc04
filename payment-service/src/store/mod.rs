//! Persistence of payments: the `PaymentStore` contract and `connect`, which picks a backend by the
//! `DATABASE_URL` scheme (SQLite or MongoDB). Every state change is one conditional update, so two workers or requests
//! never both act on the same payment.

mod mongo;
mod shapes;
mod sqlite;

use crate::domain::Payment;
use async_trait::async_trait;
use shared::events::{EventEnvelope, OutboxStore};
use shared::mongo::MongoOptions;
use shared::store::{Backend, StoreError};
use std::sync::Arc;

pub use mongo::MongoPaymentStore;
pub use sqlite::SqlitePaymentStore;

/// The provider's answer for a payment being worked on ([`PaymentStore::settle`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    /// Charged: `processing → completed`, with the provider's transaction id.
    Charged {
        /// The provider's id of the charge.
        transaction_id: &'a str,
    },
    /// Not charged: `processing → failed`, with the reason.
    Failed {
        /// Why (kept as the payment's failure reason).
        reason: &'a str,
    },
    /// Refunded: `refunding → refunded`, with the amount (and the time it is stored).
    Refunded {
        /// The amount refunded, in cents.
        refund_cents: i64,
    },
}

/// Storage of payments, processed event ids and the event outbox.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Inserts a new payment; `Conflict` when the order already has one.
    async fn insert(&self, payment: &Payment) -> Result<(), StoreError>;

    /// Applies an `OrderCreated` event once: records `event_id` as processed and inserts `payment`
    /// unless its order already has one; an order already cancelled gets it as `cancelled`, never
    /// to be charged. `Ok(true)` only when the payment was inserted.
    async fn record_order_created(
        &self,
        event_id: &str,
        payment: &Payment,
    ) -> Result<bool, StoreError>;

    /// Applies an `OrderCancelled` event once: records `event_id` and the cancelled order, marks the
    /// order's payment as to be refunded and cancels it if it was still `pending`. Returns the payment after the change
    /// (`None` for a repeated event or an order without payment).
    async fn record_order_cancelled(
        &self,
        event_id: &str,
        order_id: &str,
    ) -> Result<Option<Payment>, StoreError>;

    /// Records a processed event id with no other effect; `Ok(true)` the first time.
    async fn mark_event_processed(&self, event_id: &str) -> Result<bool, StoreError>;

    /// The payment with id `id`.
    async fn get(&self, id: &str) -> Result<Option<Payment>, StoreError>;

    /// The payment of order `order_id`.
    async fn get_by_order(&self, order_id: &str) -> Result<Option<Payment>, StoreError>;

    /// Takes a `pending` payment for charging (`pending → processing`); `None` if it is not pending.
    async fn claim_pending(&self, id: &str) -> Result<Option<Payment>, StoreError>;

    /// Takes a `failed` payment for a new attempt (`failed → processing`, attempt + 1, reason
    /// cleared); `None` if it is not failed or its order was cancelled.
    async fn claim_failed(&self, id: &str) -> Result<Option<Payment>, StoreError>;

    /// Stores the provider's answer for a payment being worked on, writing `event` to the outbox
    /// in the same transaction. The change is made only from the status the outcome follows
    /// (`processing` for a charge, `refunding` for a refund); `None` if the payment was not in it.
    async fn settle(
        &self,
        id: &str,
        outcome: Outcome<'_>,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError>;

    /// Takes a `completed` payment for refunding (`completed → refunding`); `None` otherwise.
    async fn begin_refund(&self, id: &str) -> Result<Option<Payment>, StoreError>;

    /// `refunding → completed` after the provider refused the refund.
    async fn abort_refund(&self, id: &str) -> Result<(), StoreError>;

    /// Up to `limit` payments with work to do, oldest first: `pending` ones to charge,
    /// `completed` ones whose order was cancelled, to refund, and `processing`/`refunding` ones
    /// untouched since `stale_before` (UTC ms), whose worker is gone.
    async fn due_work(&self, limit: u32, stale_before: i64) -> Result<Vec<Payment>, StoreError>;

    /// Takes over a `processing` or `refunding` payment untouched since `stale_before` (UTC ms),
    /// renewing its `updatedAt`; `None` if it moved on or was touched since.
    async fn claim_stale(&self, id: &str, stale_before: i64)
        -> Result<Option<Payment>, StoreError>;

    /// Gives back the work on these payments that a stopping worker cuts short, for any replica
    /// to take up at once: a `processing` charge goes back to `pending`, a `refunding` refund back
    /// to `completed` with its refund requested (each provider key makes the second attempt
    /// safe). Payments in other states are left alone.
    async fn give_back(&self, ids: &[String]) -> Result<(), StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The outbox of this database, for the relay.
    fn outbox(&self) -> Arc<dyn OutboxStore>;
}

/// Opens the store `url` names (`sqlite:` runs migrations; `mongodb://` creates indexes, database
/// `ecommerce_payments` unless the URL path names one), with default MongoDB options.
pub async fn connect(url: &str) -> Result<Arc<dyn PaymentStore>, StoreError> {
    connect_with(url, MongoOptions::default()).await
}

/// Like [`connect`], with the MongoDB pool size and server selection timeout of the config.
pub async fn connect_with(
    url: &str,
    mongo: MongoOptions,
) -> Result<Arc<dyn PaymentStore>, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => Arc::new(SqlitePaymentStore::connect(url).await?),
        Backend::Mongo => Arc::new(MongoPaymentStore::connect(url, mongo).await?),
    })
}
