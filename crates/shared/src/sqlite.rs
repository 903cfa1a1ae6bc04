//! The SQLite connection pool every SQLite store uses: up to `max` connections, each lent to one
//! task at a time and taken back the moment its guard is dropped, with no round trip.
//!
//! Why not sqlx's own pool: each sqlx SQLite connection runs on a thread of its own, so every
//! command sent to it is two thread switches; sqlx's pool sends one more command, a ping, every
//! time a connection is given back (from a task it spawns for that), which for a single-statement
//! query doubles the switches, and a ping tests nothing a local file handle could lose. Here a
//! connection goes back to the idle list as it is: a transaction the caller dropped unfinished
//! has already queued its rollback on the connection, which runs before the next user's first
//! statement. Idle connections are reused most recent first (their page cache is warm); one idle
//! longer than `idle_timeout`, or older than `max_lifetime`, is closed when the pool is next used.
//! A connection whose thread has stopped (sqlx answers `WorkerCrashed`) is not given back.
//!
//! Queries run on the pool as with sqlx's (`query.fetch_optional(&pool)`): `&SqlitePool` is an
//! [`Executor`] that takes a connection for the one statement. `pool.begin()` (or `begin_with`)
//! takes one for a [`Transaction`], which is rolled back if dropped before `commit`.

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteQueryResult, SqliteRow, SqliteStatement,
    SqliteTransactionManager, SqliteTypeInfo,
};
use sqlx::{
    ConnectOptions, Connection, Describe, Either, Execute, Executor, Sqlite, TransactionManager,
};
use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How a pool opens, lends and retires its connections.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Connections open at most.
    pub max: usize,
    /// Longest wait for a connection before `PoolTimedOut`.
    pub acquire_timeout: Duration,
    /// Idle connections older than this are closed (`None`: kept).
    pub idle_timeout: Option<Duration>,
    /// Connections older than this are closed instead of reused (`None`: kept).
    pub max_lifetime: Option<Duration>,
}

/// A pool of SQLite connections; cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct SqlitePool {
    inner: Arc<Inner>,
}

struct Inner {
    options: SqliteConnectOptions,
    settings: PoolSettings,
    /// One per connection lent or that may be opened; closed when the pool is.
    permits: Arc<Semaphore>,
    /// Connections not lent, least recently used first.
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    conn: SqliteConnection,
    opened: Instant,
    since: Instant,
}

impl std::fmt::Debug for SqlitePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlitePool")
            .field("settings", &self.inner.settings)
            .field("idle", &self.inner.lock().len())
            .finish()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, idle: &Idle, now: Instant) -> bool {
        let s = &self.settings;
        s.max_lifetime
            .is_some_and(|max| now.duration_since(idle.opened) > max)
            || s.idle_timeout
                .is_some_and(|max| now.duration_since(idle.since) > max)
    }
}

impl SqlitePool {
    /// A pool opening connections with `options`; one is opened at once, so a database that
    /// cannot be opened fails here.
    pub async fn connect(
        options: SqliteConnectOptions,
        settings: PoolSettings,
    ) -> Result<Self, sqlx::Error> {
        let pool = Self {
            inner: Arc::new(Inner {
                options,
                permits: Arc::new(Semaphore::new(settings.max.max(1))),
                settings,
                idle: Mutex::new(Vec::new()),
            }),
        };
        drop(pool.acquire().await?);
        Ok(pool)
    }

    /// A connection for the caller alone until the guard is dropped: an idle one, or a new one
    /// while fewer than `max` are open; otherwise waits up to `acquire_timeout`.
    pub async fn acquire(&self) -> Result<PooledConnection, sqlx::Error> {
        let permit = tokio::time::timeout(
            self.inner.settings.acquire_timeout,
            self.inner.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let now = Instant::now();
        let (retired, reused) = {
            let mut idle = self.inner.lock();
            // The oldest idle one first: closed if it has idled too long, so connections no
            // longer needed do not keep their page cache (the health views' pings use the pool
            // every second, so this runs on an otherwise idle service too).
            let retired = if idle.first().is_some_and(|i| self.inner.expired(i, now)) {
                Some(idle.remove(0))
            } else {
                None
            };
            (retired, idle.pop())
        };
        drop(retired); // outside the lock
        let (conn, opened) = match reused {
            Some(i) if !self.inner.expired(&i, now) => (i.conn, i.opened),
            // Dropping a connection ends its thread, which closes the database handle.
            _ => (self.inner.options.connect().await?, now),
        };
        Ok(PooledConnection {
            conn: Some(conn),
            opened,
            pool: self.inner.clone(),
            _permit: permit,
        })
    }

    /// A transaction (`BEGIN`) on a connection of the pool.
    pub async fn begin(&self) -> Result<Transaction, sqlx::Error> {
        Transaction::begin(self.acquire().await?, None).await
    }

    /// A transaction opened with `statement` (e.g. `BEGIN IMMEDIATE`).
    pub async fn begin_with(&self, statement: &'static str) -> Result<Transaction, sqlx::Error> {
        Transaction::begin(self.acquire().await?, Some(Cow::Borrowed(statement))).await
    }

    /// Closes the pool: no connection is lent any more, the idle ones are closed now and the
    /// lent ones when given back.
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle: Vec<Idle> = std::mem::take(&mut *self.inner.lock());
        for i in idle {
            let _ = i.conn.close().await;
        }
    }
}

/// A connection lent by a [`SqlitePool`]; it goes back to the pool when dropped.
pub struct PooledConnection {
    conn: Option<SqliteConnection>,
    opened: Instant,
    pool: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for PooledConnection {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_ref()
            .expect("a lent connection is present until dropped")
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a lent connection is present until dropped")
    }
}

impl PooledConnection {
    /// Passes `result` on; if it says the connection's thread has stopped, the connection is
    /// closed instead of going back to the pool.
    fn checked<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if matches!(result, Err(sqlx::Error::WorkerCrashed)) {
            self.conn = None;
        }
        result
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.pool.permits.is_closed() {
            return; // the pool is closed: the connection closes with its thread
        }
        self.pool.lock().push(Idle {
            conn,
            opened: self.opened,
            since: Instant::now(),
        });
    }
}

/// A transaction on a connection lent by the pool: statements run on `&mut *tx`; `commit` ends
/// it and gives the connection back. Dropped unfinished, its rollback is queued on the connection
/// (it runs before the connection's next statement) and the connection goes back to the pool.
pub struct Transaction {
    conn: PooledConnection,
    open: bool,
}

impl Transaction {
    async fn begin(
        mut conn: PooledConnection,
        statement: Option<Cow<'static, str>>,
    ) -> Result<Self, sqlx::Error> {
        let begun = SqliteTransactionManager::begin(&mut conn, statement).await;
        conn.checked(begun)?;
        Ok(Self { conn, open: true })
    }

    /// Commits; the connection goes back to the pool.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let committed = SqliteTransactionManager::commit(&mut self.conn).await;
        self.conn.checked(committed)?;
        self.open = false;
        Ok(())
    }

    /// Rolls back; the connection goes back to the pool.
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let rolled_back = SqliteTransactionManager::rollback(&mut self.conn).await;
        self.conn.checked(rolled_back)?;
        self.open = false;
        Ok(())
    }
}

impl Deref for Transaction {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        // (No connection left: its thread had stopped, so there is nothing to roll back on.)
        if let Some(conn) = self.conn.conn.as_mut().filter(|_| self.open) {
            SqliteTransactionManager::start_rollback(conn);
        }
    }
}

impl<'p> Executor<'p> for &'_ SqlitePool {
    type Database = Sqlite;

    /// The statement's results, collected on one connection and then streamed (nothing here
    /// streams results too large to hold).
    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<SqliteQueryResult, SqliteRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        let pool = self.clone();
        stream::once(async move {
            let mut conn = pool.acquire().await?;
            let steps = conn.fetch_many(query).try_collect::<Vec<_>>().await;
            conn.checked(steps)
        })
        .map_ok(|steps| stream::iter(steps.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<SqliteRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let row = conn.fetch_optional(query).await;
            conn.checked(row)
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [SqliteTypeInfo],
    ) -> BoxFuture<'e, Result<SqliteStatement<'q>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let statement = conn.prepare_with(sql, parameters).await;
            conn.checked(statement)
        })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Sqlite>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            let described = conn.describe(sql).await;
            conn.checked(described)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sqlx::Row;
    use std::str::FromStr;

    async fn pool(max: usize, idle_timeout: Option<Duration>) -> (SqlitePool, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sqlite-pool-{}", crate::ids::new_object_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let settings = PoolSettings {
            max,
            acquire_timeout: Duration::from_millis(200),
            idle_timeout,
            max_lifetime: None,
        };
        (SqlitePool::connect(options, settings).await.unwrap(), dir)
    }

    async fn rows_in_t(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_connection_whose_thread_stopped_is_not_given_back() {
        let (pool, dir) = pool(2, None).await;
        let mut conn = pool.acquire().await.unwrap();
        let alive: Result<(), _> = conn.checked(Ok(()));
        assert!(alive.is_ok());
        drop(conn);
        assert_eq!(pool.inner.lock().len(), 1);
        let mut conn = pool.acquire().await.unwrap();
        let crashed: Result<(), _> = conn.checked(Err(sqlx::Error::WorkerCrashed));
        assert!(crashed.is_err());
        drop(conn);
        assert_eq!(pool.inner.lock().len(), 0);
        // The pool opens a new one in its place.
        sqlx::query("SELECT 1").execute(&pool).await.unwrap();
        assert_eq!(pool.inner.lock().len(), 1);
        pool.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn statements_run_on_the_pool_and_connections_are_reused() {
        let (pool, dir) = pool(2, None).await;
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        let done = sqlx::query("INSERT INTO t VALUES (1), (2)")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);
        let rows = sqlx::query("SELECT x FROM t ORDER BY x")
            .fetch_all(&pool)
            .await
            .unwrap();
        let xs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(xs, [1, 2]);
        let none = sqlx::query("SELECT x FROM t WHERE x = 3")
            .fetch_optional(&pool)
            .await
            .unwrap();
        assert!(none.is_none());
        // One task at a time: the same connection each time.
        assert_eq!(pool.inner.lock().len(), 1);
        pool.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_dropped_transaction_is_rolled_back_before_the_next_user() {
        let (pool, dir) = pool(1, None).await;
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut *tx)
                .await
                .unwrap();
            // Dropped without commit.
        }
        assert_eq!(rows_in_t(&pool).await, 0);
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows_in_t(&pool).await, 1);
        pool.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn at_most_max_are_lent_and_a_waiter_times_out_or_gets_one_given_back() {
        let (pool, dir) = pool(2, None).await;
        let a = pool.acquire().await.unwrap();
        let _b = pool.acquire().await.unwrap();
        let err = pool.acquire().await.err().unwrap();
        assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err:?}");
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire().await.map(|_| ()) }
        });
        drop(a);
        waiter.await.unwrap().unwrap();
        pool.close().await;
        let err = pool.acquire().await.err().unwrap();
        assert!(matches!(err, sqlx::Error::PoolClosed), "{err:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn connections_idle_past_the_timeout_are_closed_on_the_next_use() {
        let (pool, dir) = pool(4, Some(Duration::from_millis(30))).await;
        let held: Vec<_> = vec![pool.acquire().await.unwrap(), pool.acquire().await.unwrap()];
        drop(held);
        assert_eq!(pool.inner.lock().len(), 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        // The oldest is closed, the other (expired too) replaced by a new connection.
        let conn = pool.acquire().await.unwrap();
        assert_eq!(pool.inner.lock().len(), 0);
        drop(conn);
        assert_eq!(pool.inner.lock().len(), 1);
        pool.close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
