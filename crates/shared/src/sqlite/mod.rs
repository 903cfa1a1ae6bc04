//! SQLite through rusqlite, with one hand-off per transaction instead of one per statement.
//!
//! A [`Database`] has one writer connection and any number of reader connections:
//! - [`Database::write`] runs a closure in a write transaction (`BEGIN IMMEDIATE`) on the writer,
//!   on a blocking thread: a commit may wait for the disk (a WAL checkpoint syncs), and writers of
//!   one database take turns anyway, so they queue on an async lock instead of SQLite's busy wait.
//! - [`Database::read`] runs a closure on a reader connection on the calling thread: in WAL mode a
//!   reader never waits for the writer, and the reads here are index lookups, pages of at most a
//!   hundred rows and counts over an index, cheaper than any hand-off to another thread. (A count
//!   grows with what it counts: the bus's total of stored events is the largest of them.)
//!
//! An in-memory database (`sqlite::memory:`) exists per connection, so it has only its writer,
//! which reads too. Rows, statements built at run time and SQLite's errors are read in `rows`.

mod open;
mod rows;

pub use rows::{
    all, all_with, decode, first, first_with, json_text, mark_processed, page, Query, Stored,
};

use crate::store::StoreError;
use open::{connect, create_private_file};
use rusqlite::{Connection, TransactionBehavior};
use std::path::PathBuf;
use std::sync::{Arc, Mutex as SyncMutex};
use std::time::Duration;

/// How long a statement waits for a lock another process holds before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection (every store has fewer distinct statements).
const STATEMENT_CACHE: usize = 64;
/// Reader connections kept for reuse; more are opened when more threads read at once.
const IDLE_READERS: usize = 8;

/// A SQLite database: one writer, pooled readers. Cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where connections come from; `None` for an in-memory database.
    path: Option<PathBuf>,
    /// The writer; `None` after a closure panicked with it (a new one is opened on next use).
    writer: tokio::sync::Mutex<Option<Connection>>,
    /// Idle readers (file databases only).
    readers: SyncMutex<Vec<Connection>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens (creating if needed) the database of `sqlite://path`, `sqlite:path` or
    /// `sqlite::memory:`, in WAL mode with `synchronous=NORMAL` (a commit survives a crash of the
    /// process; a power cut may lose the last commits, never consistency). The file is readable
    /// by its owner only (mode 0600; SQLite gives its `-wal` and `-shm` files the same mode),
    /// since it holds password hashes and orders; directories it creates are 0700.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StoreError::Other(format!("bad DATABASE_URL {url:?}: not sqlite:")))?;
        let rest = rest.split('?').next().unwrap_or_default();
        let path = if rest == ":memory:" || rest.is_empty() {
            None
        } else {
            let path = PathBuf::from(rest);
            create_private_file(&path)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {path:?}: {e}")))?;
            Some(path)
        };
        let writer = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || connect(path.as_ref(), true))
                .await
                .map_err(|e| StoreError::Other(format!("opening the database failed: {e}")))??
        };
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer: tokio::sync::Mutex::new(Some(writer)),
                readers: SyncMutex::new(Vec::new()),
            }),
        })
    }

    /// Checks that the database answers (a service's `/ready`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    /// Runs `f` on a reader connection, on the calling thread. `f` sees the last committed state.
    pub async fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(path) = &self.inner.path else {
            let mut writer = self.inner.writer.lock().await;
            return f(writer_of(&mut writer, None)?);
        };
        let idle = self.inner.readers.lock().expect("readers lock").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(Some(path), false)?,
        };
        let out = f(&conn);
        let mut readers = self.inner.readers.lock().expect("readers lock");
        if readers.len() < IDLE_READERS {
            readers.push(conn);
        }
        out
    }

    /// Runs `f` in a write transaction on the writer connection, on a blocking thread: commits
    /// when `f` returns `Ok`, rolls back when it returns an error (or panics).
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.write_or_refuse(f).await
    }

    /// [`Database::write`] for a closure with an error type of its own, such as a refusal that
    /// must roll back what the transaction already did and reach the caller as it is.
    pub async fn write_or_refuse<T, E>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let mut writer = self.inner.writer.lock().await;
        let path = self.inner.path.clone();
        let Some(path) = path else {
            // In memory nothing waits for a disk: no hand-off.
            return in_transaction(writer_of(&mut writer, None)?, f);
        };
        let mut conn = match writer.take() {
            Some(conn) => conn,
            None => connect(Some(&path), true)?,
        };
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = in_transaction(&mut conn, f);
            (conn, out)
        })
        .await
        .map_err(|e| StoreError::Other(format!("a database write failed: {e}")))?;
        *writer = Some(conn);
        out
    }

    /// Closes the connections (pending writes finish first). An in-memory database keeps its one
    /// connection: it is the data.
    pub async fn close(&self) {
        let mut writer = self.inner.writer.lock().await;
        if self.inner.path.is_some() {
            writer.take();
        }
        self.inner.readers.lock().expect("readers lock").clear();
    }
}

/// The writer behind `slot`, reopened if a panic lost it.
fn writer_of<'a>(
    slot: &'a mut Option<Connection>,
    path: Option<&PathBuf>,
) -> Result<&'a mut Connection, StoreError> {
    if slot.is_none() {
        *slot = Some(connect(path, true)?);
    }
    Ok(slot.as_mut().expect("just set"))
}

fn in_transaction<T, E: From<StoreError>>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    let out = f(&tx)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(out)
}

/// The `EXPLAIN QUERY PLAN` lines of `sql`, for tests that a query is served by its index.
/// Parameters are left unbound: SQLite chooses a plan when it prepares the statement.
pub async fn query_plan(db: &Database, sql: &str) -> Result<Vec<String>, StoreError> {
    db.read(|conn| {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        // Unbound parameters are NULL; the plan does not depend on them.
        let mut rows = stmt.raw_query();
        let mut lines = Vec::new();
        while let Some(row) = rows.next()? {
            lines.push(row.get::<_, String>(3)?);
        }
        Ok(lines)
    })
    .await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(super) async fn memory() -> Database {
        let db = Database::open("sqlite::memory:").await.unwrap();
        db.write(|tx| {
            tx.execute_batch(
                "CREATE TABLE processed_events (id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL);
                 CREATE TABLE t (x INTEGER PRIMARY KEY);",
            )?;
            Ok(())
        })
        .await
        .unwrap();
        db
    }

    fn count(conn: &Connection) -> Result<i64, StoreError> {
        Ok(conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?)
    }

    #[tokio::test]
    async fn a_write_commits_on_ok_and_rolls_back_on_error() {
        let db = memory().await;
        db.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (1)", [])?))
            .await
            .unwrap();
        let refused = db
            .write(|tx| {
                tx.execute("INSERT INTO t VALUES (2)", [])?;
                Err::<(), _>(StoreError::Conflict("no".into()))
            })
            .await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))));
        assert_eq!(db.read(count).await.unwrap(), 1);
        let duplicate = db
            .write(|tx| Ok(tx.execute("INSERT INTO t VALUES (1)", [])?))
            .await;
        assert!(
            matches!(duplicate, Err(StoreError::Conflict(_))),
            "{duplicate:?}"
        );
    }

    /// A refusal of the caller's own type rolls the transaction back and reaches the caller as it is.
    #[tokio::test]
    async fn a_refusal_rolls_back_and_comes_back_unchanged() {
        #[derive(Debug, PartialEq)]
        enum Outcome {
            Refused(&'static str),
            Store(String),
        }
        impl From<StoreError> for Outcome {
            fn from(e: StoreError) -> Self {
                Outcome::Store(e.to_string())
            }
        }
        let db = memory().await;
        let refused = db
            .write_or_refuse(|tx| {
                tx.execute("INSERT INTO t VALUES (1)", [])
                    .map_err(StoreError::from)?;
                Err::<(), _>(Outcome::Refused("out of stock"))
            })
            .await;
        assert_eq!(refused, Err(Outcome::Refused("out of stock")));
        assert_eq!(db.read(count).await.unwrap(), 0);
    }

    /// Built statements keep their placeholders and values in step.
    #[tokio::test]
    async fn a_panicking_write_rolls_back_and_the_next_write_gets_a_new_writer() {
        let dir = std::env::temp_dir().join(format!("db-panic-{}", crate::ids::new_object_id()));
        let db = Database::open(&format!("sqlite://{}", dir.join("t.db").display()))
            .await
            .unwrap();
        db.write(|tx| Ok(tx.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")?))
            .await
            .unwrap();
        let panicked = db
            .write(|tx| {
                tx.execute("INSERT INTO t VALUES (1)", [])?;
                panic!("a bug in a store");
                #[allow(unreachable_code)]
                Ok(())
            })
            .await;
        assert!(
            matches!(panicked, Err(StoreError::Other(_))),
            "{panicked:?}"
        );
        db.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (2)", [])?))
            .await
            .unwrap();
        let rows: Vec<i64> = db
            .read(|c| {
                let mut s = c.prepare("SELECT x FROM t")?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(rows, vec![2]);
        db.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn readers_see_committed_writes_and_cannot_write() {
        let dir = std::env::temp_dir().join(format!("db-read-{}", crate::ids::new_object_id()));
        let db = Database::open(&format!("sqlite:{}", dir.join("t.db").display()))
            .await
            .unwrap();
        db.write(|tx| Ok(tx.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")?))
            .await
            .unwrap();
        assert_eq!(db.read(count).await.unwrap(), 0);
        db.write(|tx| Ok(tx.execute("INSERT INTO t VALUES (1)", [])?))
            .await
            .unwrap();
        assert_eq!(db.read(count).await.unwrap(), 1);
        let written = db
            .read(|c| Ok(c.execute("INSERT INTO t VALUES (3)", [])?))
            .await;
        assert!(written.is_err(), "a reader wrote: {written:?}");
        db.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn database_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("db-mode-{}", crate::ids::new_object_id()));
        let file = dir.join("nested").join("t.db");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let db = Database::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        db.write(|tx| {
            tx.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(db.read(count).await.unwrap(), 1);
        assert_eq!(mode(&file), 0o600);
        for suffix in ["-wal", "-shm"] {
            assert_eq!(
                mode(&dir.join("nested").join(format!("t.db{suffix}"))),
                0o600,
                "{suffix}"
            );
        }
        assert_eq!(mode(&dir.join("nested")), 0o700);
        db.close().await;
        // A file an older version created world-readable is tightened at the next start.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = Database::open(&format!("sqlite:{}", file.display()))
            .await
            .unwrap();
        assert_eq!(mode(&file), 0o600);
        db.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
