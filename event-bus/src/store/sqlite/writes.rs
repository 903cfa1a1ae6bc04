//! The SQLite store's writes, each applied inside a transaction the group commit opens: appends
//! as multi-row inserts, claims as one conditional UPDATE with the bodies read alongside, and the
//! delivery state changes (each a conditional UPDATE on pending rows).

use super::rows::{body_of, insert_delivery};
use crate::domain::{DeliveryStatus, DueDelivery, Subscription};
use crate::store::StoreError;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
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

impl Write {
    /// Applies the write on `conn`, inside the caller's transaction.
    /// Borrowed, so that a write of a transaction that failed can be applied again on its own.
    pub(super) async fn apply(&self, conn: &mut SqliteConnection) -> Result<Written, StoreError> {
        match self {
            Write::Append {
                events,
                subscribers,
                now,
                due_at,
            } => append(conn, events, subscribers, *now, *due_at)
                .await
                .map(Written::Stored),
            Write::Claim {
                subscriber,
                now,
                lease_until,
                limit,
            } => claim(conn, subscriber, *now, *lease_until, *limit)
                .await
                .map(Written::Claimed),
            Write::Settle {
                subscriber,
                event_ids,
                now,
                release,
            } => {
                let ids = serde_json::to_string(event_ids)?;
                let q = if *release {
                    sqlx::query(RELEASE).bind(*now)
                } else {
                    sqlx::query(MARK_DELIVERED).bind(*now).bind(*now)
                };
                q.bind(subscriber).bind(ids).execute(conn).await?;
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
                // Decided on the stored count, so a replay racing with an attempt is never
                // dead-lettered by that attempt's stale count.
                let status: Option<(String,)> = sqlx::query_as(
                    "UPDATE deliveries SET \
                     status = CASE WHEN attempts + 1 >= ? THEN 'dead' ELSE 'pending' END, \
                     attempts = attempts + 1, last_error = ?, next_attempt_at = ?, updated_at = ? \
                     WHERE event_id = ? AND subscriber = ? AND status = 'pending' RETURNING status",
                )
                .bind(*max_attempts)
                .bind(error)
                .bind(*retry_at)
                .bind(*now)
                .bind(event_id)
                .bind(subscriber)
                .fetch_optional(conn)
                .await?;
                Ok(Written::Status(
                    status.and_then(|(s,)| DeliveryStatus::parse(&s)),
                ))
            }
            Write::Replay {
                event_id,
                subscribers,
                now,
            } => replay(conn, event_id, subscribers, *now)
                .await
                .map(Written::Queued),
        }
    }
}

async fn append(
    conn: &mut SqliteConnection,
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
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (id, type, data, occurred_at, source, received_at) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(&e.id)
                .push_bind(&e.event_type)
                .push_bind(&e.data)
                .push_bind(&e.occurred_at)
                .push_bind(&e.source)
                .push_bind(now);
        });
        q.push(" ON CONFLICT (id) DO NOTHING RETURNING id, seq");
        for row in q.build().fetch_all(&mut *conn).await? {
            stored.insert(row.try_get("id")?, row.try_get("seq")?);
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
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT OR IGNORE INTO deliveries \
             (event_id, subscriber, seq, status, attempts, next_attempt_at, updated_at) ",
        );
        q.push_values(chunk, |mut row, (id, seq, sub)| {
            row.push_bind(*id)
                .push_bind(*sub)
                .push_bind(*seq)
                .push("'pending', 0")
                .push_bind(due_at)
                .push_bind(now);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(new.into_iter().map(|(e, _)| e.id.clone()).collect())
}

async fn claim(
    conn: &mut SqliteConnection,
    subscriber: &str,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut claimed: Vec<(String, i64, i64)> = sqlx::query_as(CLAIM)
        .bind(lease_until)
        .bind(subscriber)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    claimed.sort_by_key(|(_, seq, _)| *seq);
    let ids: Vec<&str> = claimed.iter().map(|(id, _, _)| id.as_str()).collect();
    let mut bodies = HashMap::with_capacity(ids.len());
    for row in sqlx::query(BODIES)
        .bind(serde_json::to_string(&ids)?)
        .fetch_all(&mut *conn)
        .await?
    {
        bodies.insert(row.try_get::<String, _>("id")?, body_of(&row)?);
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

async fn replay(
    conn: &mut SqliteConnection,
    event_id: &str,
    subscribers: &[Subscription],
    now: i64,
) -> Result<u64, StoreError> {
    // Inside the group commit's BEGIN IMMEDIATE: the write lock is held, so the read below
    // cannot go stale before the writes.
    let known: Option<(i64, String)> = sqlx::query_as("SELECT seq, type FROM events WHERE id = ?")
        .bind(event_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((seq, event_type)) = known else {
        return Err(StoreError::NotFound);
    };
    for sub in subscribers.iter().filter(|s| s.wants(&event_type)) {
        insert_delivery(&mut *conn, (event_id, seq), &sub.name, now).await?;
    }
    let done = sqlx::query(
        "UPDATE deliveries SET status = 'pending', attempts = 0, last_error = NULL, \
         delivered_at = NULL, next_attempt_at = ?, updated_at = ? WHERE event_id = ?",
    )
    .bind(now)
    .bind(now)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
