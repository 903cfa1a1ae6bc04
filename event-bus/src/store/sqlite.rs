//! The SQLite event store: `events` (arrival order in `seq`) and `deliveries` keyed by
//! (event id, subscriber). Every state change is one conditional UPDATE.

use super::sqlite_rows::{
    delivery, envelope, event, insert_delivery, ADD_DELIVERY_SEQ, DELIVERY_COLUMNS, EVENT_COLUMNS,
    INDEXES, TABLES,
};
use super::{EventStore, StoreError};
use crate::domain::{Counts, DeadDelivery, Delivery, DeliveryStatus, DueDelivery, StoredEvent};
use async_trait::async_trait;
use shared::events::EventEnvelope;
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;

/// Events and deliveries in one SQLite database.
#[derive(Clone)]
pub struct SqliteEventStore {
    pub(super) pool: SqlitePool,
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
        Ok(Self { pool })
    }
}

/// A subscriber's due deliveries in event order: `deliveries_due_seq` walks its pending ones by
/// `seq`, skipping those not due from the index alone, so a page stops after `limit` due rows
/// instead of sorting every due one. SQLite would rather narrow on the due time and sort, hence
/// `INDEXED BY` (which also makes it refuse the statement should the index go).
pub(super) fn due_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS}, d.attempts FROM deliveries d INDEXED BY deliveries_due_seq \
         JOIN events e ON e.id = d.event_id \
         WHERE d.subscriber = ? AND d.status = 'pending' AND d.next_attempt_at <= ? \
         ORDER BY d.seq LIMIT ?"
    )
}

/// When a subscriber's next pending delivery is due (`deliveries_next`).
pub(super) const NEXT_DUE: &str =
    "SELECT MIN(next_attempt_at) FROM deliveries WHERE subscriber = ? AND status = 'pending'";

/// The latest events, of one type when given (`events_type`), else in `seq` order of the table.
pub(super) fn recent_sql(typed: bool) -> String {
    let filter = if typed { "WHERE e.type = ? " } else { "" };
    format!("SELECT {EVENT_COLUMNS} FROM events e {filter}ORDER BY e.seq DESC LIMIT ?")
}

/// The deliveries of `n` events (their primary key).
pub(super) fn deliveries_of_sql(n: usize) -> String {
    let marks = vec!["?"; n].join(",");
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.event_id IN ({marks}) \
         ORDER BY d.subscriber"
    )
}

/// Dead letters, latest first (`deliveries_dead`).
pub(super) fn dead_sql() -> String {
    format!(
        "SELECT {EVENT_COLUMNS}, {DELIVERY_COLUMNS} FROM deliveries d \
         JOIN events e ON e.id = d.event_id WHERE d.status = 'dead' \
         ORDER BY d.updated_at DESC, d.seq DESC LIMIT ?"
    )
}

/// The `/health` counts (events from any index; deliveries by status from `deliveries_dead`).
pub(super) const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM events), \
    (SELECT COUNT(*) FROM deliveries WHERE status = 'pending'), \
    (SELECT COUNT(*) FROM deliveries WHERE status = 'dead')";

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        events: &[EventEnvelope],
        subscribers: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut stored = Vec::new();
        for e in events {
            let seq: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO events (id, type, data, occurred_at, source, received_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq",
            )
            .bind(&e.id)
            .bind(&e.event_type)
            .bind(serde_json::to_string(&e.data)?)
            .bind(&e.occurred_at)
            .bind(&e.source)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((seq,)) = seq else {
                continue;
            };
            for sub in subscribers {
                insert_delivery(&mut *tx, (&e.id, seq), sub, now).await?;
            }
            stored.push(e.id.clone());
        }
        tx.commit().await?;
        Ok(stored)
    }

    async fn due(
        &self,
        subscriber: &str,
        now: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let rows = sqlx::query(&due_sql())
            .bind(subscriber)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let attempts: i64 = r.try_get("attempts")?;
                Ok(DueDelivery {
                    envelope: envelope(r)?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
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
        event_id: &str,
        subscriber: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, \
             delivered_at = ?, updated_at = ? \
             WHERE event_id = ? AND subscriber = ? AND status = 'pending'",
        )
        .bind(now)
        .bind(now)
        .bind(event_id)
        .bind(subscriber)
        .execute(&self.pool)
        .await?;
        Ok(())
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
        // Decided on the stored count, so a replay racing with an attempt is never dead-lettered
        // by that attempt's stale count.
        let status: Option<(String,)> = sqlx::query_as(
            "UPDATE deliveries SET \
             status = CASE WHEN attempts + 1 >= ? THEN 'dead' ELSE 'pending' END, \
             attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? \
             WHERE event_id = ? AND subscriber = ? AND status = 'pending' RETURNING status",
        )
        .bind(max_attempts)
        .bind(error)
        .bind(retry_at)
        .bind(now)
        .bind(event_id)
        .bind(subscriber)
        .fetch_optional(&self.pool)
        .await?;
        Ok(status.and_then(|(s,)| DeliveryStatus::parse(&s)))
    }

    async fn replay(
        &self,
        event_id: &str,
        subscribers: &[String],
        now: i64,
    ) -> Result<u64, StoreError> {
        // IMMEDIATE: take the write lock up front, so the read below cannot go stale before the
        // writes (which SQLite would report as busy instead of waiting).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let known: Option<(i64,)> = sqlx::query_as("SELECT seq FROM events WHERE id = ?")
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((seq,)) = known else {
            return Err(StoreError::NotFound);
        };
        for sub in subscribers {
            insert_delivery(&mut *tx, (event_id, seq), sub, now).await?;
        }
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', attempts = 0, last_error = NULL, \
             delivered_at = NULL, next_attempt_at = ?, updated_at = ? WHERE event_id = ?",
        )
        .bind(now)
        .bind(now)
        .bind(event_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
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
