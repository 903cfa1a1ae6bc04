//! The SQLite store's writes, each applied inside a transaction the group commit opens: appends
//! as multi-row inserts, claims as one conditional UPDATE with the bodies read alongside, and the
//! delivery state changes (each a conditional UPDATE on pending rows).

use super::rows::{body_of, insert_delivery};
use crate::domain::{DeliveryStatus, DueDelivery, Subscription};
use crate::store::StoreError;
use rusqlite::types::ToSql;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use shared::store::parse_stored;
use std::collections::{HashMap, HashSet};

/// Events per INSERT statement, and delivery rows per INSERT statement: well under SQLite's
/// limit of bound parameters whatever the batch or the number of subscribers.
const EVENTS_PER_INSERT: usize = 100;
const DELIVERIES_PER_INSERT: usize = 200;

/// An event as the `events` row will hold it (`data` already JSON text).
pub(super) struct NewEvent {
    pub id: String,
    pub event_type: String,
    pub data: String,
    pub occurred_at: String,
    pub source: String,
}

/// One write of the store, queued for the next group commit.
pub(super) enum Write {
    /// New deliveries are due at `due_at` (`now`, or later when leased to the caller).
    Append {
        events: Vec<NewEvent>,
        subscribers: Vec<Subscription>,
        now: i64,
        due_at: i64,
    },
    Claim {
        subscriber: String,
        now: i64,
        lease_until: i64,
        limit: u32,
    },
    /// `release: false` marks delivered; `true` gives claimed deliveries back.
    Settle {
        subscriber: String,
        event_ids: Vec<String>,
        now: i64,
        release: bool,
    },
    MarkFailed {
        event_id: String,
        subscriber: String,
        error: String,
        max_attempts: u32,
        retry_at: i64,
        now: i64,
    },
    Replay {
        event_id: String,
        subscribers: Vec<Subscription>,
        now: i64,
    },
}

/// What a write answers.
pub(super) enum Written {
    Stored(Vec<String>),
    Claimed(Vec<DueDelivery>),
    Done,
    Status(Option<DeliveryStatus>),
    Queued(u64),
}

/// A subscriber's due deliveries in event order (`deliveries_pending_seq`, read in `seq` order and
/// stopping after `limit` due rows; `INDEXED BY` because SQLite would rather narrow on the due
/// time and sort), pushed to their lease end in the same statement: the claim is one conditional
/// update, so two replicas never claim the same row.
pub(super) const CLAIM: &str = "UPDATE deliveries SET next_attempt_at = ? WHERE rowid IN \
     (SELECT rowid FROM deliveries INDEXED BY deliveries_pending_seq \
      WHERE subscriber = ? AND status = 'pending' AND next_attempt_at <= ? ORDER BY seq LIMIT ?) \
     RETURNING event_id, seq, attempts";

/// The events of a JSON array of ids (by the events' unique id index).
pub(super) const BODIES: &str = "SELECT id, type, data, occurred_at, source FROM events \
     WHERE id IN (SELECT value FROM json_each(?))";

/// Pending deliveries of one subscriber for a JSON array of event ids, found by primary key (the
/// unary `+` keeps SQLite from walking all the subscriber's pending rows by another index).
pub(super) const MARK_DELIVERED: &str = "UPDATE deliveries SET status = 'delivered', \
     attempts = attempts + 1, delivered_at = ?, updated_at = ? \
     WHERE +subscriber = ? AND +status = 'pending' \
     AND event_id IN (SELECT value FROM json_each(?))";

/// Claimed deliveries given back: due now (never later than they already were); by primary key.
pub(super) const RELEASE: &str = "UPDATE deliveries SET next_attempt_at = MIN(next_attempt_at, ?) \
     WHERE +subscriber = ? AND +status = 'pending' \
     AND event_id IN (SELECT value FROM json_each(?))";

/// Decided on the stored count, so a replay racing with an attempt is never dead-lettered by that
/// attempt's stale count.
const MARK_FAILED: &str = "UPDATE deliveries SET \
     status = CASE WHEN attempts + 1 >= ? THEN 'dead' ELSE 'pending' END, \
     attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? \
     WHERE event_id = ? AND subscriber = ? AND status = 'pending' RETURNING status";

/// The arrival order and type of one event (by its unique id index).
const EVENT_SEQ_TYPE: &str = "SELECT seq, type FROM events WHERE id = ?";

/// Every delivery of one event due again from the start.
const REPLAY: &str = "UPDATE deliveries SET status = 'pending', attempts = 0, last_error = NULL, \
     delivered_at = NULL, next_attempt_at = ?, updated_at = ? WHERE event_id = ?";

impl Write {
    /// Applies the write on `conn`, inside the caller's transaction.
    /// Borrowed, so that a write of a transaction that failed can be applied again on its own.
    pub(super) fn apply(&self, conn: &Connection) -> Result<Written, StoreError> {
        match self {
            Write::Append {
                events,
                subscribers,
                now,
                due_at,
            } => append(conn, events, subscribers, *now, *due_at).map(Written::Stored),
            Write::Claim {
                subscriber,
                now,
                lease_until,
                limit,
            } => claim(conn, subscriber, *now, *lease_until, *limit).map(Written::Claimed),
            Write::Settle {
                subscriber,
                event_ids,
                now,
                release,
            } => {
                let ids = serde_json::to_string(event_ids)?;
                if *release {
                    conn.prepare_cached(RELEASE)?
                        .execute(params![now, subscriber, ids])?;
                } else {
                    conn.prepare_cached(MARK_DELIVERED)?
                        .execute(params![now, now, subscriber, ids])?;
                }
                Ok(Written::Done)
            }
            Write::MarkFailed {
                event_id,
                subscriber,
                error,
                max_attempts,
                retry_at,
                now,
            } => {
                let status: Option<String> = conn
                    .prepare_cached(MARK_FAILED)?
                    .query_row(
                        params![max_attempts, error, retry_at, now, event_id, subscriber],
                        |row| row.get(0),
                    )
                    .optional()?;
                let status = status.map(|s| parse_stored("delivery status", &s));
                Ok(Written::Status(status.transpose()?))
            }
            Write::Replay {
                event_id,
                subscribers,
                now,
            } => replay(conn, event_id, subscribers, *now).map(Written::Queued),
        }
    }
}

/// `head` followed by `rows` tuples of `row` (`VALUES (…), (…)`), then `tail`.
fn values_sql(head: &str, row: &str, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + 8 + rows * (row.len() + 2) + tail.len());
    sql.push_str(head);
    sql.push_str("VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(row);
    }
    sql.push_str(tail);
    sql
}

/// Inserts the events not stored yet (ids seen twice in `events` count once) and their
/// deliveries; answers the ids inserted, in the order given.
///
/// The multi-row statements are prepared through the statement cache too: their text depends only
/// on the number of rows, and batches of one size recur.
fn append(
    conn: &Connection,
    events: &[NewEvent],
    subscribers: &[Subscription],
    now: i64,
    due_at: i64,
) -> Result<Vec<String>, StoreError> {
    let mut seen = HashSet::new();
    let events: Vec<&NewEvent> = events
        .iter()
        .filter(|e| seen.insert(e.id.as_str()))
        .collect();
    let mut stored: HashMap<String, i64> = HashMap::new();
    for chunk in events.chunks(EVENTS_PER_INSERT) {
        let sql = values_sql(
            "INSERT INTO events (id, type, data, occurred_at, source, received_at) ",
            "(?, ?, ?, ?, ?, ?)",
            chunk.len(),
            " ON CONFLICT (id) DO NOTHING RETURNING id, seq",
        );
        let binds = chunk.iter().flat_map(|e| -> [&dyn ToSql; 6] {
            [
                &e.id,
                &e.event_type,
                &e.data,
                &e.occurred_at,
                &e.source,
                &now,
            ]
        });
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(binds))?;
        while let Some(row) = rows.next()? {
            stored.insert(row.get(0)?, row.get(1)?);
        }
    }
    // Ids in the order given (RETURNING promises no order).
    let new: Vec<(&NewEvent, i64)> = events
        .iter()
        .filter_map(|e| stored.get(&e.id).map(|seq| (*e, *seq)))
        .collect();
    let rows: Vec<(&str, i64, &str)> = new
        .iter()
        .flat_map(|(e, seq)| {
            subscribers
                .iter()
                .filter(|s| s.wants(&e.event_type))
                .map(move |s| (e.id.as_str(), *seq, s.name.as_str()))
        })
        .collect();
    for chunk in rows.chunks(DELIVERIES_PER_INSERT) {
        let sql = values_sql(
            "INSERT OR IGNORE INTO deliveries \
             (event_id, subscriber, seq, status, attempts, next_attempt_at, updated_at) ",
            "(?, ?, ?, 'pending', 0, ?, ?)",
            chunk.len(),
            "",
        );
        let binds = chunk
            .iter()
            .flat_map(|(id, seq, sub)| -> [&dyn ToSql; 5] { [id, sub, seq, &due_at, &now] });
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(binds))?;
    }
    Ok(new.into_iter().map(|(e, _)| e.id.clone()).collect())
}

/// Leases up to `limit` due deliveries of `subscriber` until `lease_until` and reads their bodies;
/// answers them in event order.
fn claim(
    conn: &Connection,
    subscriber: &str,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut claimed: Vec<(String, i64, i64)> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(CLAIM)?;
        let mut rows = stmt.query(params![lease_until, subscriber, now, limit])?;
        while let Some(row) = rows.next()? {
            claimed.push((row.get(0)?, row.get(1)?, row.get(2)?));
        }
    }
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    claimed.sort_by_key(|(_, seq, _)| *seq);
    let ids: Vec<&str> = claimed.iter().map(|(id, _, _)| id.as_str()).collect();
    let mut bodies = HashMap::with_capacity(ids.len());
    {
        let mut stmt = conn.prepare_cached(BODIES)?;
        let mut rows = stmt.query(params![serde_json::to_string(&ids)?])?;
        while let Some(row) = rows.next()? {
            bodies.insert(row.get::<_, String>("id")?, body_of(row)?);
        }
    }
    Ok(claimed
        .into_iter()
        .filter_map(|(event_id, _, attempts)| {
            let body = bodies.remove(&event_id)?;
            Some(DueDelivery {
                event_id,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                body,
            })
        })
        .collect())
}

/// Queues `event_id` again for every subscriber that wants it (adding missing deliveries) and
/// answers the number of its deliveries now pending; `NotFound` for an unknown event.
fn replay(
    conn: &Connection,
    event_id: &str,
    subscribers: &[Subscription],
    now: i64,
) -> Result<u64, StoreError> {
    // Inside the group commit's BEGIN IMMEDIATE: the write lock is held, so the read below
    // cannot go stale before the writes.
    let known: Option<(i64, String)> = conn
        .prepare_cached(EVENT_SEQ_TYPE)?
        .query_row(params![event_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((seq, event_type)) = known else {
        return Err(StoreError::NotFound);
    };
    for sub in subscribers.iter().filter(|s| s.wants(&event_type)) {
        insert_delivery(conn, (event_id, seq), &sub.name, now)?;
    }
    let done = conn
        .prepare_cached(REPLAY)?
        .execute(params![now, now, event_id])?;
    Ok(u64::try_from(done).unwrap_or(u64::MAX))
}
