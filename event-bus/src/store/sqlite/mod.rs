//! The SQLite event store: `events` (arrival order in `seq`) and `deliveries` keyed by
//! (event id, subscriber). Every state change is one conditional UPDATE, and every write goes
//! through the group commit (`group_commit.rs`); reads go straight to a reader connection (WAL
//! readers do not wait for the writer).

mod group_commit;
#[cfg(test)]
mod plans;
mod rows;
mod writes;

use super::shapes::{StoredDelivery, StoredEnvelope};
use super::{Claim, Deliveries, EventStore, FailedAttempt, NewEvents, StoreError};
use crate::domain::{
    Counts, DeadDelivery, Delivery, DeliveryStatus, DueDelivery, StoredEvent, Subscription,
};
use async_trait::async_trait;
use group_commit::GroupCommit;
use rows::{ADD_DELIVERY_SEQ, DELIVERY_COLUMNS, EVENT_COLUMNS, INDEXES, TABLES};
use rusqlite::{params, params_from_iter, Connection};
use shared::sqlite::Database;
use shared::sqlite::{all, decode};
use std::collections::HashMap;
use std::sync::Arc;
use writes::{NewEvent, Write, Written};

/// Events and deliveries in one SQLite database.
#[derive(Clone)]
pub struct SqliteEventStore {
    db: Database,
    writer: Arc<GroupCommit>,
}

impl SqliteEventStore {
    /// Opens `url` and creates the tables if needed.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = Database::open(url).await?;
        db.write(|tx| Ok(tx.execute_batch(TABLES)?)).await?;
        // In one write transaction (BEGIN IMMEDIATE): replicas starting together on one file
        // check and add the column in turn.
        db.write(|tx| {
            let has_seq: bool = tx.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info('deliveries') WHERE name = 'seq'",
                [],
                |row| row.get(0),
            )?;
            if !has_seq {
                for step in ADD_DELIVERY_SEQ {
                    tx.execute(step, [])?;
                }
            }
            Ok(())
        })
        .await?;
        db.write(|tx| Ok(tx.execute_batch(INDEXES)?)).await?;
        let writer = Arc::new(GroupCommit::new(db.clone()));
        Ok(Self { db, writer })
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
        deliveries: Deliveries<'_>,
        now: i64,
        release: bool,
    ) -> Result<(), StoreError> {
        if deliveries.event_ids.is_empty() {
            return Ok(());
        }
        let write = Write::Settle {
            subscriber: deliveries.subscriber.to_string(),
            event_ids: deliveries.event_ids.to_vec(),
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
    async fn append(&self, new: NewEvents<'_>) -> Result<Vec<String>, StoreError> {
        let events = new
            .events
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
        match self
            .write(Write::Append {
                events,
                subscribers: new.subscribers.to_vec(),
                now: new.now,
                due_at: new.due_at,
            })
            .await?
        {
            Written::Stored(ids) => Ok(ids),
            _ => Err(mismatch()),
        }
    }

    async fn claim(&self, claim: Claim<'_>) -> Result<Vec<DueDelivery>, StoreError> {
        let write = Write::Claim {
            subscriber: claim.subscriber.to_string(),
            now: claim.now,
            lease_until: claim.lease_until,
            limit: claim.limit,
        };
        match self.write(write).await? {
            Written::Claimed(due) => Ok(due),
            _ => Err(mismatch()),
        }
    }

    async fn next_due_at(&self, subscriber: &str) -> Result<Option<i64>, StoreError> {
        self.db
            .read(|conn| {
                Ok(conn
                    .prepare_cached(NEXT_DUE)?
                    .query_row(params![subscriber], |row| row.get(0))?)
            })
            .await
    }

    async fn mark_delivered(&self, deliveries: Deliveries<'_>, now: i64) -> Result<(), StoreError> {
        self.settle(deliveries, now, false).await
    }

    async fn release(&self, deliveries: Deliveries<'_>, now: i64) -> Result<(), StoreError> {
        self.settle(deliveries, now, true).await
    }

    async fn mark_failed(
        &self,
        failed: FailedAttempt<'_>,
        now: i64,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        let write = Write::MarkFailed {
            event_id: failed.event_id.to_string(),
            subscriber: failed.subscriber.to_string(),
            error: failed.error.to_string(),
            max_attempts: failed.max_attempts,
            retry_at: failed.retry_at,
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
        self.db
            .read(|conn| {
                let mut events = recent_events(conn, event_type, limit)?;
                if events.is_empty() {
                    return Ok(events);
                }
                let mut by_event = deliveries_of(conn, &events)?;
                for e in &mut events {
                    e.deliveries = by_event.remove(&e.envelope.id).unwrap_or_default();
                }
                Ok(events)
            })
            .await
    }

    async fn dead(&self, limit: u32) -> Result<Vec<DeadDelivery>, StoreError> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare_cached(&dead_sql())?;
                let mut rows = stmt.query(params![limit])?;
                let mut dead = Vec::new();
                while let Some(row) = rows.next()? {
                    dead.push(DeadDelivery {
                        delivery: decode::<StoredDelivery>(row)?.into(),
                        event: decode::<StoredEnvelope>(row)?.try_into()?,
                    });
                }
                Ok(dead)
            })
            .await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let (total, pending, dead): (i64, i64, i64) = self
            .db
            .read(|conn| {
                Ok(conn
                    .prepare_cached(COUNTS)?
                    .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?)
            })
            .await?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(Counts {
            total_events: n(total),
            pending: n(pending),
            dead: n(dead),
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }
}

/// The latest `limit` events, of `event_type` when given, without their deliveries.
fn recent_events(
    conn: &Connection,
    event_type: Option<&str>,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = recent_sql(event_type.is_some());
    match event_type {
        Some(t) => all(conn, &sql, params![t, limit]),
        None => all(conn, &sql, params![limit]),
    }
}

/// The deliveries of `events`, by event id, each event's sorted by subscriber.
fn deliveries_of(
    conn: &Connection,
    events: &[StoredEvent],
) -> Result<HashMap<String, Vec<Delivery>>, StoreError> {
    let mut stmt = conn.prepare_cached(&deliveries_of_sql(events.len()))?;
    let mut rows = stmt.query(params_from_iter(events.iter().map(|e| &e.envelope.id)))?;
    let mut by_event: HashMap<String, Vec<Delivery>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let stored: StoredDelivery = decode(row)?;
        let id = stored.event_id.clone();
        by_event.entry(id).or_default().push(stored.into());
    }
    Ok(by_event)
}
