//! The SQLite schema of the event store, the columns its reads select (decoded as
//! `store::shapes`), and the delivery body built from an event row without copying it.

use super::StoreError;
use crate::clients::subscribers::delivery_body;
use bytes::Bytes;
use rusqlite::{params, Connection, Row};

pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT NOT NULL REFERENCES events (id),
    subscriber TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at INTEGER NOT NULL,
    delivered_at INTEGER,
    updated_at INTEGER NOT NULL,
    -- The event's `seq`, copied so that due and dead deliveries are read in event order from
    -- an index of this table alone.
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, subscriber)
);
";

/// Adds `deliveries.seq` to a database made before it existed, filled from the events.
pub(super) const ADD_DELIVERY_SEQ: [&str; 2] = [
    "ALTER TABLE deliveries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
    "UPDATE deliveries SET seq = (SELECT e.seq FROM events e WHERE e.id = deliveries.event_id)",
];

/// One index per query: events by type, newest first; a subscriber's pending deliveries in event
/// order (the due time read from the index) and by due time (the next wake-up); dead letters,
/// latest first. The delivery indexes are partial: only pending (or dead) rows are in them, so a
/// delivered row leaves them once and never weighs on them again, and their size is the backlog,
/// not the log. They replace older shapes that held every row.
pub(super) const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS events_type ON events (type, seq);
DROP INDEX IF EXISTS deliveries_due;
DROP INDEX IF EXISTS deliveries_status;
DROP INDEX IF EXISTS deliveries_due_seq;
DROP INDEX IF EXISTS deliveries_next;
DROP INDEX IF EXISTS deliveries_dead;
CREATE INDEX IF NOT EXISTS deliveries_pending_seq
    ON deliveries (subscriber, seq, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_pending_next
    ON deliveries (subscriber, next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_dead_at
    ON deliveries (updated_at, seq) WHERE status = 'dead';
";

pub(super) const EVENT_COLUMNS: &str =
    "e.id, e.type, e.data, e.occurred_at, e.source, e.received_at";
pub(super) const DELIVERY_COLUMNS: &str =
    "d.event_id, d.subscriber, d.status, d.attempts, d.last_error, d.delivered_at, d.updated_at";

/// A TEXT column of `row`, borrowed from the row (no copy).
fn text<'r>(row: &'r Row<'_>, column: &str) -> Result<&'r str, StoreError> {
    Ok(row
        .get_ref(column)?
        .as_str()
        .map_err(rusqlite::Error::from)?)
}

/// The body to post for an `events` row (`data` spliced in as stored).
pub(super) fn body_of(row: &Row<'_>) -> Result<Bytes, StoreError> {
    Ok(delivery_body(
        text(row, "id")?,
        text(row, "type")?,
        text(row, "data")?,
        text(row, "occurred_at")?,
        text(row, "source")?,
    ))
}

/// Queues the delivery of the event `event_id` (arrival order `seq`) to `sub`, unless queued.
pub(super) fn insert_delivery(
    conn: &Connection,
    (event_id, seq): (&str, i64),
    sub: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO deliveries \
         (event_id, subscriber, seq, status, attempts, next_attempt_at, updated_at) \
         VALUES (?, ?, ?, 'pending', 0, ?, ?)",
    )?
    .execute(params![event_id, sub, seq, now, now])?;
    Ok(())
}
