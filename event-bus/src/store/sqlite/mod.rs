//! The SQLite event store: `events` (arrival order in `seq`) and `deliveries` keyed by
//! (event id, subscriber). Every state change is one conditional UPDATE, and every write goes
//! through the group commit (`group_commit.rs`); reads go straight to the pool (WAL readers do
//! not wait for the writer).

mod group_commit;
#[cfg(test)]
mod plans;
mod rows;
mod writes;

use super::{EventStore, StoreError};
use crate::domain::{
    Counts, DeadDelivery, Delivery, DeliveryStatus, DueDelivery, StoredEvent, Subscription,
};
use async_trait::async_trait;
use group_commit::GroupCommit;
use rows::{delivery, event, ADD_DELIVERY_SEQ, DELIVERY_COLUMNS, EVENT_COLUMNS, INDEXES, TABLES};
use shared::events::EventEnvelope;
use shared::sqlite::SqlitePool;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use writes::{NewEvent, Write, Written};

/// Events and deliveries in one SQLite database.
#[derive(Clone)]
pub struct SqliteEventStore {
    pool: SqlitePool,
    writer: Arc<GroupCommit>,
}

impl SqliteEventStore {
    /// Opens `url` and creates the tables if needed.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = shared::store::sqlite_pool(url).await?;
        sqlx::raw_sql(TABLES).execute(&pool).await?;
        // IMMEDIATE: replicas starting together on one file check and add the column in turn.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let (has_seq,): (bool,) = sqlx::query_as(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('deliveries') WHERE name = 'seq'",
        )
        .fetch_one(&mut *tx)
        .await?;
        if !has_seq {
            for step in ADD_DELIVERY_SEQ {
                sqlx::query(step).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        sqlx::raw_sql(INDEXES).execute(&pool).await?;
        let writer = Arc::new(GroupCommit::new(pool.clone()));
        Ok(Self { pool, writer })
    }

    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        self.writer.write(write).await
    }
}

/// A write answered with something other than its kind of answer (a bug, not a database state).
fn mismatch() -> StoreError {
    StoreError::Other("group commit answered the wrong kind of write".to_string())
}

/// When a subscriber's next pending delivery is due, or its claim ends (`deliveries_pending_next`).
const NEXT_DUE: &str =
    "SELECT MIN(next_attempt_at) FROM deliveries WHERE subscriber = ? AND status = 'pending'";

/// The latest events, of one type when given (`events_type`), else in `seq` order of the table.
fn recent_sql(typed: bool) -> String {
    let filter = if typed { "WHERE e.type = ? " } else { "" };
    format!("SELECT {EVENT_COLUMNS} FROM events e {filter}ORDER BY e.seq DESC LIMIT ?")
}

/// The deliveries of `n` events (their primary key).
fn deliveries_of_sql(n: usize) -> String {
    let marks = vec!["?"; n].join(",");
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.event_id IN ({marks}) \
         ORDER BY d.subscriber"
    )
}

/// Dead letters, latest first (`deliveries_dead_at`).
fn dead_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS}, {DELIVERY_COLUMNS} FROM deliveries d \
         JOIN events e ON e.id = d.event_id WHERE d.status = 'dead' \
         ORDER BY d.updated_at DESC, d.seq DESC LIMIT ?"
    )
}

/// The `/health` counts (events from any index; pending and dead deliveries from their partial
/// indexes, so each count reads only the rows it counts).
const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM events), \
    (SELECT COUNT(*) FROM deliveries WHERE status = 'pending'), \
    (SELECT COUNT(*) FROM deliveries WHERE status = 'dead')";

impl SqliteEventStore {
    async fn settle(
        &self,
        subscriber: &str,
        event_ids: &[String],
        now: i64,
        release: bool,
    ) -> Result<(), StoreError> {
        if event_ids.is_empty() {
            return Ok(());
        }
        let write = Write::Settle {
            subscriber: subscriber.to_string(),
            event_ids: event_ids.to_vec(),
            now,
            release,
        };
        match self.write(write).await? {
            Written::Done => Ok(()),
            _ => Err(mismatch()),
        }
    }
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append_leased(
        &self,
        events: &[EventEnvelope],
        subscribers: &[Subscription],
        now: i64,
        due_at: i64,
    ) -> Result<Vec<String>, StoreError> {
        let events = events
            .iter()
            .map(|e| {
                Ok(NewEvent {
                    id: e.id.clone(),
                    event_type: e.event_type.clone(),
                    data: serde_json::to_string(&e.data)?,
                    occurred_at: e.occurred_at.clone(),
                    source: e.source.clone(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let subscribers = subscribers.to_vec();
        match self
            .write(Write::Append {
                events,
                subscribers,
                now,
                due_at,
            })
            .await?
        {
            Written::Stored(ids) => Ok(ids),
            _ => Err(mismatch()),
        }
    }

    async fn claim(
        &self,
        subscriber: &str,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let subscriber = subscriber.to_string();
        let write = Write::Claim {
            subscriber,
            now,
            lease_until,
            limit,
        };
        match self.write(write).await? {
            Written::Claimed(due) => Ok(due),
            _ => Err(mismatch()),
        }
    }

    async fn next_due_at(&self, subscriber: &str) -> Result<Option<i64>, StoreError> {
        let (next,): (Option<i64>,) = sqlx::query_as(NEXT_DUE)
            .bind(subscriber)
            .fetch_one(&self.pool)
            .await?;
        Ok(next)
    }

    async fn mark_delivered(
        &self,
        subscriber: &str,
        event_ids: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        self.settle(subscriber, event_ids, now, false).await
    }

    async fn release(
        &self,
        subscriber: &str,
        event_ids: &[String],
        now: i64,
    ) -> Result<(), StoreError> {
        self.settle(subscriber, event_ids, now, true).await
    }

    async fn mark_failed(
        &self,
        event_id: &str,
        subscriber: &str,
        error: &str,
        max_attempts: u32,
        retry_at: i64,
        now: i64,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        let write = Write::MarkFailed {
            event_id: event_id.to_string(),
            subscriber: subscriber.to_string(),
            error: error.to_string(),
            max_attempts,
            retry_at,
            now,
        };
        match self.write(write).await? {
            Written::Status(status) => Ok(status),
            _ => Err(mismatch()),
        }
    }

    async fn replay(
        &self,
        event_id: &str,
        subscribers: &[Subscription],
        now: i64,
    ) -> Result<u64, StoreError> {
        let write = Write::Replay {
            event_id: event_id.to_string(),
            subscribers: subscribers.to_vec(),
            now,
        };
        match self.write(write).await? {
            Written::Queued(n) => Ok(n),
            _ => Err(mismatch()),
        }
    }

    async fn recent(
        &self,
        event_type: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = recent_sql(event_type.is_some());
        let mut query = sqlx::query(&sql);
        if let Some(t) = event_type {
            query = query.bind(t);
        }
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        let mut events = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
        if events.is_empty() {
            return Ok(events);
        }
        let sql = deliveries_of_sql(events.len());
        let mut q = sqlx::query(&sql);
        for e in &events {
            q = q.bind(&e.envelope.id);
        }
        let mut by_event: HashMap<String, Vec<Delivery>> = HashMap::new();
        for row in q.fetch_all(&self.pool).await? {
            let id: String = row.try_get("event_id")?;
            by_event.entry(id).or_default().push(delivery(&row)?);
        }
        for e in &mut events {
            e.deliveries = by_event.remove(&e.envelope.id).unwrap_or_default();
        }
        Ok(events)
    }

    async fn dead(&self, limit: u32) -> Result<Vec<DeadDelivery>, StoreError> {
        let rows = sqlx::query(&dead_sql())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadDelivery {
                    delivery: delivery(r)?,
                    event: event(r)?,
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let (total, pending, dead): (i64, i64, i64) =
            sqlx::query_as(COUNTS).fetch_one(&self.pool).await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(Counts {
            total_events: n(total),
            pending: n(pending),
            dead: n(dead),
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
