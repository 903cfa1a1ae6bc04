//! The transactional outbox: events stored in the caller's own transaction (SQLite schema and
//! insert; MongoDB stores have their own), and the relay that delivers them to the bus at least
//! once, in batches, woken when new ones are stored.
//!
//! Replicas share one outbox: the relay of each claims the batch it sends (one conditional update
//! pushes the events' next attempt past a lease, [`CLAIM_LEASE`]), so two relays do not send the
//! same events in the normal case; a relay that crashed mid-batch leaves its claim to lapse, and
//! another sends the batch then. The bus stores an event once by id, so an event sent twice (a lease
//! that ran out, a lost acknowledgement) is still delivered once.

use super::EventEnvelope;
use crate::client::ServiceClient;
use crate::retry::{Backoff, Failures};
use crate::store::{now_ms, StoreError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Where a service keeps events until the bus acknowledges them.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` undelivered events whose next attempt is due, oldest first: they are
    /// not due again (to this caller or any other replica) before `lease` has passed, unless
    /// [`failed`](Self::failed) says otherwise.
    async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<EventEnvelope>, StoreError>;
    /// Marks events as delivered.
    async fn delivered(&self, ids: &[String]) -> Result<(), StoreError>;
    /// Records a failed attempt; the next one is due after `retry_in`.
    async fn failed(&self, ids: &[String], retry_in: Duration) -> Result<(), StoreError>;
    /// Number of undelivered events.
    async fn pending(&self) -> Result<u64, StoreError>;
}

/// The outbox table; create it in the service's own migrations. Its index holds only the events
/// not yet delivered, in the order the relay sends them, with their due time: the relay's scan
/// and the pending count cost nothing for the events delivered long ago.
pub const SQLITE_OUTBOX_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS outbox (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at INTEGER
);
DROP INDEX IF EXISTS outbox_due;
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (created_at, id, next_attempt_at)
    WHERE delivered_at IS NULL;";

/// Claims the due events (one statement: SQLite runs it alone); `RETURNING` gives no order, so
/// the caller sorts.
const OUTBOX_CLAIM: &str = "UPDATE outbox SET next_attempt_at = ?1 WHERE id IN \
    (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ?2 \
    ORDER BY created_at, id LIMIT ?3) RETURNING created_at, id, event";
const OUTBOX_PENDING: &str = "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL";

/// Inserts `event` into the outbox inside the caller's transaction.
pub fn outbox_insert(conn: &rusqlite::Connection, event: &EventEnvelope) -> Result<(), StoreError> {
    let now = now_ms();
    conn.prepare_cached(
        "INSERT INTO outbox (id, event, created_at, next_attempt_at) VALUES (?, ?, ?, ?)",
    )?
    .execute(rusqlite::params![
        event.id,
        serde_json::to_string(event)?,
        now,
        now
    ])?;
    Ok(())
}

/// The outbox of a SQLite database (table from `SQLITE_OUTBOX_SCHEMA`).
#[derive(Clone)]
pub struct SqliteOutbox {
    db: crate::sqlite::Database,
}

impl SqliteOutbox {
    /// The outbox in `db` (table from `SQLITE_OUTBOX_SCHEMA`).
    pub fn new(db: crate::sqlite::Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl OutboxStore for SqliteOutbox {
    async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<EventEnvelope>, StoreError> {
        let now = now_ms();
        let until = now.saturating_add(crate::store::millis(lease));
        let mut rows = self
            .db
            .write(move |tx| {
                let mut claim = tx.prepare_cached(OUTBOX_CLAIM)?;
                let rows = claim.query_map(rusqlite::params![until, now, limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get(2)?))
                })?;
                Ok(rows.collect::<Result<Vec<(i64, String, String)>, _>>()?)
            })
            .await?;
        rows.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        rows.iter()
            .map(|(_, _, event)| Ok(serde_json::from_str(event)?))
            .collect()
    }

    async fn delivered(&self, ids: &[String]) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.db
            .write(move |tx| {
                let now = now_ms();
                let mut mark =
                    tx.prepare_cached("UPDATE outbox SET delivered_at = ? WHERE id = ?")?;
                for id in &ids {
                    mark.execute(rusqlite::params![now, id])?;
                }
                Ok(())
            })
            .await
    }

    async fn failed(&self, ids: &[String], retry_in: Duration) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        let next = now_ms() + retry_in.as_millis() as i64;
        self.db
            .write(move |tx| {
                let mut mark = tx.prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
                )?;
                for id in &ids {
                    mark.execute(rusqlite::params![next, id])?;
                }
                Ok(())
            })
            .await
    }

    async fn pending(&self) -> Result<u64, StoreError> {
        self.db
            .read(|conn| {
                let n: i64 = conn
                    .prepare_cached(OUTBOX_PENDING)?
                    .query_row([], |row| row.get(0))?;
                Ok(n as u64)
            })
            .await
    }
}

/// Most outbox events posted to the bus in one request.
const RELAY_BATCH: u32 = 100;
/// How long the relay's claim on a batch lasts: far longer than one post to the bus may take.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);

/// Delivers outbox events to the bus (`POST /events` with an array) until acknowledged. Writers
/// wake it after each event they store.
pub struct OutboxRelay {
    /// The outbox.
    pub store: Arc<dyn OutboxStore>,
    /// Client of the event bus (with the internal token).
    pub bus: ServiceClient,
    /// Woken when a new event is written, so delivery starts at once.
    pub wake: Arc<Notify>,
    /// Retry schedule after a failed delivery.
    pub backoff: Backoff,
    /// How often to look for due events without a wake-up.
    pub poll: Duration,
}

impl OutboxRelay {
    /// Runs until `cancel` fires. Every batch is retried with backoff while the bus is down.
    pub async fn run(self, cancel: CancellationToken) {
        let mut failures = Failures::new(self.backoff);
        loop {
            // A full batch may have left more behind; after a smaller one everything due when it
            // was read is delivered, and what was written since has woken the relay.
            let full = match self.deliver_batch().await {
                Ok(n) => {
                    failures.succeeded();
                    n == RELAY_BATCH as usize
                }
                Err(e) => {
                    let wait = failures.failed();
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "outbox delivery failed");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {},
                    }
                    continue;
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(self.poll) => {},
            }
        }
    }

    async fn deliver_batch(&self) -> Result<usize, String> {
        let batch = self
            .store
            .claim(RELAY_BATCH, CLAIM_LEASE)
            .await
            .map_err(|e| e.to_string())?;
        if batch.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
        match self.bus.post_json("/events", &batch).await {
            Ok(_) => {
                self.store
                    .delivered(&ids)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(ids.len())
            }
            Err(e) => {
                let _ = self.store.failed(&ids, self.backoff.cap(0)).await;
                Err(e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::types;
    use serde_json::Value;

    /// An in-memory database with the outbox table.
    async fn outbox_db() -> crate::sqlite::Database {
        let db = crate::sqlite::Database::open("sqlite::memory:")
            .await
            .unwrap();
        db.write(|tx| Ok(tx.execute_batch(SQLITE_OUTBOX_SCHEMA)?))
            .await
            .unwrap();
        db
    }

    async fn insert(db: &crate::sqlite::Database, event: &EventEnvelope) {
        let event = event.clone();
        db.write(move |tx| outbox_insert(tx, &event)).await.unwrap();
    }

    #[tokio::test]
    async fn outbox_round_trip() {
        let pool = outbox_db().await;
        let outbox = SqliteOutbox::new(pool.clone());
        let e = EventEnvelope::new(
            types::ORDER_CREATED,
            serde_json::json!({"orderId": "x"}),
            "order-service",
        );
        insert(&pool, &e).await;
        assert_eq!(
            outbox.claim(10, Duration::ZERO).await.unwrap(),
            vec![e.clone()]
        );
        outbox
            .failed(std::slice::from_ref(&e.id), Duration::from_secs(60))
            .await
            .unwrap();
        assert!(outbox.claim(10, Duration::ZERO).await.unwrap().is_empty());
        assert_eq!(outbox.pending().await.unwrap(), 1);
        outbox.delivered(std::slice::from_ref(&e.id)).await.unwrap();
        assert_eq!(outbox.pending().await.unwrap(), 0);
    }

    /// A relay with a poll interval far beyond the test: everything it delivers, it delivers on
    /// wake-ups alone. More than a batch waiting goes out after one wake-up (a full batch is
    /// followed at once by the next read); an event written later goes out on its own wake-up.
    #[tokio::test]
    async fn the_relay_drains_full_batches_at_once_and_is_woken_for_new_events() {
        let pool = outbox_db().await;
        let outbox = Arc::new(SqliteOutbox::new(pool.clone()));
        let waiting = RELAY_BATCH as usize * 2 + 5;
        for i in 0..waiting {
            let e = EventEnvelope::new(types::ORDER_CREATED, serde_json::json!({"i": i}), "test");
            insert(&pool, &e).await;
        }
        // The bus: counts the events it is sent.
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<usize>();
        let bus = axum::Router::new().route(
            "/events",
            axum::routing::post(move |body: axum::Json<Vec<Value>>| {
                let _ = seen_tx.send(body.0.len());
                async { axum::http::StatusCode::ACCEPTED }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, bus).await });
        let wake = Arc::new(Notify::new());
        let relay = OutboxRelay {
            store: outbox.clone(),
            bus: ServiceClient::new(reqwest::Client::new(), &url, "Event bus", None),
            wake: wake.clone(),
            backoff: Backoff {
                initial: Duration::from_millis(10),
                max: Duration::from_millis(10),
                factor: 1.0,
            },
            poll: Duration::from_secs(3600),
        };
        let cancel = CancellationToken::new();
        let running = tokio::spawn(relay.run(cancel.clone()));
        // A relay that waited for its poll instead would miss these deadlines by an hour.
        let patience = Duration::from_secs(10);
        let mut delivered = 0;
        while delivered < waiting {
            let batch = tokio::time::timeout(patience, seen.recv()).await;
            delivered += batch.expect("the next batch without a wake-up").unwrap();
        }
        assert_eq!(delivered, waiting);
        let later = EventEnvelope::new(types::ORDER_CREATED, serde_json::json!({}), "test");
        insert(&pool, &later).await;
        wake.notify_one();
        let woken = tokio::time::timeout(patience, seen.recv()).await;
        assert_eq!(woken.expect("delivered on the wake-up"), Some(1));
        cancel.cancel();
        running.await.unwrap();
        assert_eq!(outbox.pending().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_relay_claim_and_the_pending_count_read_only_the_undelivered_index() {
        let pool = outbox_db().await;
        // One walk of the partial index (only undelivered events are in it), in its order: no
        // table scan, no sort; the claim then updates the rows it found by primary key.
        let lines = crate::sqlite::query_plan(&pool, OUTBOX_PENDING)
            .await
            .unwrap();
        assert_eq!(lines, ["SCAN outbox USING INDEX outbox_pending"]);
        let lines = crate::sqlite::query_plan(&pool, OUTBOX_CLAIM)
            .await
            .unwrap();
        assert_eq!(
            lines,
            [
                "SEARCH outbox USING COVERING INDEX sqlite_autoindex_outbox_1 (id=?)",
                "LIST SUBQUERY 1",
                "SCAN outbox USING INDEX outbox_pending",
            ]
        );
    }
}
