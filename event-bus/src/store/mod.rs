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
    /// Stores the events not stored yet, each with one pending delivery (due at `now`) per
    /// subscription in `subscribers` that wants its type, all in one transaction (which
    /// concurrent calls may share: group commit). Ids already stored (also repeated within
    /// `events`) are skipped without new deliveries. Returns the ids that were newly stored.
    async fn append(
        &self,
        events: &[EventEnvelope],
        subscribers: &[Subscription],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        self.append_leased(events, subscribers, now, now).await
    }

    /// [`append`](Self::append), with the new deliveries due only at `due_at`: leased to the
    /// caller, who hands them to its delivery workers itself (and releases those it cannot).
    async fn append_leased(
        &self,
        events: &[EventEnvelope],
        subscribers: &[Subscription],
        now: i64,
        due_at: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Claims up to `limit` pending deliveries of `subscriber` due at `now`, in the order events
    /// arrived, in one conditional update: each one claimed is not due again (to this or any other
    /// replica sharing the database) before `lease_until`, unless a change below makes it so.
    async fn claim(
        &self,
        subscriber: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;

    /// When the earliest pending delivery of `subscriber` is due (UTC ms; a claimed one when its
    /// lease ends), if any.
    async fn next_due_at(&self, subscriber: &str) -> Result<Option<i64>, StoreError>;

    /// Marks the pending deliveries of these events to `subscriber` as acknowledged at `now`, in
    /// one update. Deliveries not pending (or unknown) are left as they are.
    async fn mark_delivered(
        &self,
        subscriber: &str,
        event_ids: &[String],
        now: i64,
    ) -> Result<(), StoreError>;

    /// Gives claimed deliveries of these events to `subscriber` back, due at `now` (attempts not
    /// counted), e.g. when the bus stops with them in flight. Only pending ones change.
    async fn release(
        &self,
        subscriber: &str,
        event_ids: &[String],
        now: i64,
    ) -> Result<(), StoreError>;

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
