//! Persistence of orders, their outbox events and pending stock releases, behind one trait with a
//! SQLite and a MongoDB backend. `connect` picks the backend by URL scheme.

mod mongo;
mod shapes;
mod sqlite;

use crate::domain::{Order, OrderStatus, PaymentEvent, Transition};
use async_trait::async_trait;
use shared::events::{EventEnvelope, OutboxStore};
use shared::mongo::MongoOptions;
use shared::store::{Backend, PageRequest, StoreError};
use std::sync::Arc;
use std::time::Duration;

pub use mongo::MongoOrderStore;
pub use sqlite::SqliteOrderStore;

/// Makes the event a change announces from the order after it (the use case's choice, in
/// `app::events`); the store writes it with the change.
pub type Announce = fn(&Order) -> EventEnvelope;

/// A cancellation asked for ([`OrderStore::cancel`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancellation<'a> {
    /// The order.
    pub id: &'a str,
    /// Only this user's order (a customer cancelling their own).
    pub owner: Option<&'a str>,
    /// The statuses it may be cancelled from.
    pub from: &'a [OrderStatus],
}

/// One step along the fulfilment path ([`OrderStore::advance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step<'a> {
    /// The order.
    pub id: &'a str,
    /// The status it must be in.
    pub from: OrderStatus,
    /// The status it moves to.
    pub to: OrderStatus,
    /// The tracking number to set, if any.
    pub tracking_number: Option<&'a str>,
}

/// Which orders a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this user's orders (always set for non-admins).
    pub user_id: Option<String>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
}

/// An `Idempotency-Key` as stored with the order it created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The key the client sent.
    pub key: String,
    /// Hash of the normalised request body; a reuse with another body is refused.
    pub fingerprint: String,
}

/// Storage of orders.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Inserts `order` and its `OrderCreated` event in one transaction. `Conflict` when the user
    /// already has an order with the same idempotency key (or the id exists).
    async fn create(
        &self,
        order: &Order,
        key: Option<&IdempotencyKey>,
        event: &EventEnvelope,
    ) -> Result<(), StoreError>;

    /// The order `user_id` created with idempotency key `key`, with the stored fingerprint.
    async fn find_by_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<(Order, String)>, StoreError>;

    /// One order by id.
    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError>;

    /// A page of matching orders, newest first, and the total number matching.
    async fn list(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<Order>, u64), StoreError>;

    /// Cancels an order whose status is one of `cancel.from` in one conditional update (only
    /// `cancel.owner`'s, when given); with it queues the stock release and the event `announce`
    /// makes.
    async fn cancel(
        &self,
        cancel: Cancellation<'_>,
        announce: Announce,
    ) -> Result<Transition, StoreError>;

    /// Moves an order one `step` in one conditional update, only while its payment is
    /// `completed`, setting the tracking number when given; with it queues the event `announce`
    /// makes.
    async fn advance(&self, step: Step<'_>, announce: Announce) -> Result<Transition, StoreError>;

    /// Applies a payment event once per event id: records the id and the conditional change (plus
    /// the event `announce` makes, and a stock release for a failure) together. `Ok(None)` when
    /// the event id was already processed; else the transition (`NotFound` for an unknown order).
    async fn apply_payment(
        &self,
        event: &PaymentEvent,
        announce: Announce,
    ) -> Result<Option<Transition>, StoreError>;

    /// Queues a stock release for `order_id` (no-op if one is already queued).
    async fn queue_release(&self, order_id: &str) -> Result<(), StoreError>;

    /// Claims the stock releases due, oldest first, and returns their order ids: they are not due
    /// again (to this caller or another replica) before `lease` has passed, unless
    /// [`release_failed`](Self::release_failed) says otherwise.
    async fn claim_releases(&self, limit: u32, lease: Duration) -> Result<Vec<String>, StoreError>;

    /// Marks the release of `order_id` as done.
    async fn release_done(&self, order_id: &str) -> Result<(), StoreError>;

    /// Records a failed release attempt; the next one is due after `retry_in`.
    async fn release_failed(&self, order_id: &str, retry_in: Duration) -> Result<(), StoreError>;

    /// The outbox the relay delivers from.
    fn outbox(&self) -> Arc<dyn OutboxStore>;
}

/// Opens the store named by `url` (`sqlite:…` or `mongodb://…`) and creates its tables or indexes.
pub async fn connect(url: &str, mongo: MongoOptions) -> Result<Arc<dyn OrderStore>, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => Arc::new(SqliteOrderStore::connect(url).await?),
        Backend::Mongo => Arc::new(MongoOrderStore::connect(url, mongo).await?),
    })
}
