//! Persistence of events and deliveries behind one trait, so the SQLite store and the MongoDB
//! store pass the same contract suite.

mod mongo;
mod shapes;
mod sqlite;

use crate::domain::{Counts, DeadDelivery, DeliveryStatus, DueDelivery, StoredEvent, Subscription};
use async_trait::async_trait;
pub use mongo::{MongoEventStore, DEFAULT_DATABASE};
use shared::events::EventEnvelope;
use shared::mongo::MongoOptions;
use shared::store::Backend;
pub use shared::store::StoreError;
pub use sqlite::SqliteEventStore;
use std::sync::Arc;

/// The event log and its per-subscriber deliveries.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores the events not stored yet, each with one pending delivery (due at `new.due_at`) per
    /// subscription in `new.subscribers` that wants its type, all in one transaction (which
    /// concurrent calls may share: group commit). Ids already stored (also repeated within
    /// `new.events`) are skipped without new deliveries. Returns the ids that were newly stored.
    async fn append(&self, new: NewEvents<'_>) -> Result<Vec<String>, StoreError>;

    /// Claims up to `claim.limit` pending deliveries of `claim.subscriber` due at `claim.now`, in
    /// the order events arrived, in one conditional update: each one claimed is not due again (to
    /// this or any other replica sharing the database) before `claim.lease_until`, unless a change
    /// below makes it so.
    async fn claim(&self, claim: Claim<'_>) -> Result<Vec<DueDelivery>, StoreError>;

    /// When the earliest pending delivery of `subscriber` is due (UTC ms; a claimed one when its
    /// lease ends), if any.
    async fn next_due_at(&self, subscriber: &str) -> Result<Option<i64>, StoreError>;

    /// Marks these deliveries, where pending, as acknowledged at `now`, in one update.
    /// Deliveries not pending (or unknown) are left as they are.
    async fn mark_delivered(&self, deliveries: Deliveries<'_>, now: i64) -> Result<(), StoreError>;

    /// Gives these claimed deliveries back, due at `now` (attempts not counted), e.g. when the bus
    /// stops with them in flight. Only pending ones change.
    async fn release(&self, deliveries: Deliveries<'_>, now: i64) -> Result<(), StoreError>;

    /// Records a failed attempt of a pending delivery in one conditional update: attempts + 1 and
    /// `error` kept; once attempts reach `max_attempts` it becomes dead, else it stays pending until
    /// `retry_at`. Returns the new status, or `None` when the delivery was not pending.
    async fn mark_failed(
        &self,
        failed: FailedAttempt<'_>,
        now: i64,
    ) -> Result<Option<DeliveryStatus>, StoreError>;

    /// Resets every delivery of the event to pending with 0 attempts, due at `now`, adding one for
    /// each subscription in `subscribers` that wants its type and lacks one. Returns how many
    /// deliveries are queued; `StoreError::NotFound` for an unknown id.
    async fn replay(
        &self,
        event_id: &str,
        subscribers: &[Subscription],
        now: i64,
    ) -> Result<u64, StoreError>;

    /// The newest `limit` events (of `event_type` when given), newest first, with deliveries.
    async fn recent(
        &self,
        event_type: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Up to `limit` dead deliveries, most recently failed first, each with its event.
    async fn dead(&self, limit: u32) -> Result<Vec<DeadDelivery>, StoreError>;

    /// Events stored, deliveries pending and dead.
    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Events to store ([`EventStore::append`]).
#[derive(Debug, Clone, Copy)]
pub struct NewEvents<'a> {
    /// The events, in the order they arrived.
    pub events: &'a [EventEnvelope],
    /// Who receives them: each subscription that wants an event's type gets a delivery of it.
    pub subscribers: &'a [Subscription],
    /// When they arrive (UTC ms).
    pub now: i64,
    /// When their deliveries are first due: `now`, or later when they are leased to the caller,
    /// who hands them to its delivery workers itself (and releases those it cannot).
    pub due_at: i64,
}

impl<'a> NewEvents<'a> {
    /// Events whose deliveries are due at once.
    pub fn due_now(events: &'a [EventEnvelope], subscribers: &'a [Subscription], now: i64) -> Self {
        Self {
            events,
            subscribers,
            now,
            due_at: now,
        }
    }
}

/// A claim on a subscriber's due deliveries ([`EventStore::claim`]).
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// The subscriber.
    pub subscriber: &'a str,
    /// Deliveries due at or before this time (UTC ms) are claimed.
    pub now: i64,
    /// Those claimed are not due again before this time (UTC ms).
    pub lease_until: i64,
    /// How many at the most.
    pub limit: u32,
}

/// One subscriber's deliveries of some events ([`EventStore::mark_delivered`],
/// [`EventStore::release`]).
#[derive(Debug, Clone, Copy)]
pub struct Deliveries<'a> {
    /// The subscriber.
    pub subscriber: &'a str,
    /// The events.
    pub event_ids: &'a [String],
}

impl<'a> Deliveries<'a> {
    /// The deliveries of these events to `subscriber`.
    pub fn to(subscriber: &'a str, event_ids: &'a [String]) -> Self {
        Self {
            subscriber,
            event_ids,
        }
    }
}

/// A failed attempt at a delivery, to record ([`EventStore::mark_failed`]).
#[derive(Debug, Clone, Copy)]
pub struct FailedAttempt<'a> {
    /// The event.
    pub event_id: &'a str,
    /// The subscriber.
    pub subscriber: &'a str,
    /// What went wrong, kept as the delivery's last error.
    pub error: &'a str,
    /// Attempts after which the delivery is dead.
    pub max_attempts: u32,
    /// When the next attempt is due, if the delivery is not dead.
    pub retry_at: i64,
}

/// Opens the store named by `url`: `sqlite:` (creating the tables) or `mongodb://` /
/// `mongodb+srv://` (creating the indexes; `opts` sets the pool and server selection timeout).
pub async fn connect(url: &str, opts: MongoOptions) -> Result<Arc<dyn EventStore>, StoreError> {
    Ok(match Backend::of(url)? {
        Backend::Sqlite => Arc::new(SqliteEventStore::connect(url).await?),
        Backend::Mongo => Arc::new(MongoEventStore::connect(url, opts).await?),
    })
}
