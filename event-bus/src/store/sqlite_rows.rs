//! The SQLite schema of the event store and the mapping of its rows to domain types.

use super::StoreError;
use crate::domain::{Delivery, DeliveryStatus, StoredEvent};
use shared::events::EventEnvelope;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL REFERENCES events (id),
    subscriber TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at INTEGER NOT NULL,
    delivered_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, subscriber)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (subscriber, status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, updated_at);
";

pub(super) const EVENT_COLUMNS: &str =
    "e.id, e.type, e.data, e.occurred_at, e.source, e.received_at";
pub(super) const DELIVERY_COLUMNS: &str =
    "d.event_id, d.subscriber, d.status, d.attempts, d.last_error, d.delivered_at, d.updated_at";

pub(super) fn envelope(row: &SqliteRow) -> Result<EventEnvelope, StoreError> {
    let data: String = row.try_get("data")?;
    Ok(EventEnvelope {
        id: row.try_get("id")?,
        event_type: row.try_get("type")?,
        data: serde_json::from_str(&data)?,
        occurred_at: row.try_get("occurred_at")?,
        source: row.try_get("source")?,
    })
}

pub(super) fn event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        envelope: envelope(row)?,
        received_at: row.try_get("received_at")?,
        deliveries: Vec::new(),
    })
}

pub(super) fn delivery(row: &SqliteRow) -> Result<Delivery, StoreError> {
    let status: String = row.try_get("status")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Delivery {
        subscriber: row.try_get("subscriber")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Other(format!("unknown delivery status {status:?}")))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error: row.try_get("last_error")?,
        delivered_at: row.try_get("delivered_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) async fn insert_delivery<'e, E>(
    exec: E,
    event_id: &str,
    sub: &str,
    now: i64,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT OR IGNORE INTO deliveries \
         (event_id, subscriber, status, attempts, next_attempt_at, updated_at) \
         VALUES (?, ?, 'pending', 0, ?, ?)",
    )
    .bind(event_id)
    .bind(sub)
    .bind(now)
    .bind(now)
    .execute(exec)
    .await?;
    Ok(())
}
