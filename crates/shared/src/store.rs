//! Storage helpers shared by every service's store: the error every store returns, paging, and
//! SQLite connection setup (file under `./data`, WAL, busy timeout).

use crate::error::ApiError;
use crate::sqlite::{PoolSettings, SqlitePool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// What went wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated (the message names it).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Other(format!("stored JSON is invalid: {e}"))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("not_found", "Not found"),
            StoreError::Conflict(m) => ApiError::conflict("conflict", m),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "database unavailable");
                ApiError::unavailable("Database unavailable")
            }
            StoreError::Other(m) => ApiError::internal_from(&m),
        }
    }
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page.
    pub page: u64,
    /// Page size (1–100).
    pub limit: u64,
}

impl PageRequest {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.limit
    }
}

/// The URL schemes `store::connect` understands, for error messages.
pub const SUPPORTED_SCHEMES: &str = "sqlite:, mongodb://, mongodb+srv://";

/// Which backend a `DATABASE_URL` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` (embedded default).
    Sqlite,
    /// `mongodb://` or `mongodb+srv://`.
    Mongo,
}

impl Backend {
    /// Picks the backend by scheme, or an error listing the supported ones.
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("mongodb://") || url.starts_with("mongodb+srv://") {
            Ok(Backend::Mongo)
        } else {
            Err(StoreError::Other(format!(
                "unsupported DATABASE_URL scheme (supported: {SUPPORTED_SCHEMES})"
            )))
        }
    }
}

/// Opens (creating if needed) a SQLite database from `sqlite://path` or `sqlite::memory:`.
/// The file is readable by its owner only (mode 0600; SQLite gives its `-wal` and `-shm` files the
/// same mode), since it holds password hashes and orders; directories it creates are 0700.
pub async fn sqlite_pool(url: &str) -> Result<SqlitePool, StoreError> {
    let memory = url.contains(":memory:");
    if !memory {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or("");
        create_private_file(std::path::Path::new(path))
            .map_err(|e| StoreError::Unavailable(format!("cannot create {path:?}: {e}")))?;
    }
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("bad DATABASE_URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(if memory {
            SqliteJournalMode::Memory
        } else {
            SqliteJournalMode::Wal
        })
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    // An in-memory database exists per connection: keep exactly one, for good.
    let settings = if memory {
        PoolSettings {
            max: 1,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: None,
            max_lifetime: None,
        }
    } else {
        PoolSettings {
            max: 8,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(300)),
            max_lifetime: Some(Duration::from_secs(1800)),
        }
    };
    SqlitePool::connect(opts, settings)
        .await
        .map_err(StoreError::from)
}

/// Creates `path` (and its missing parent directories, 0700) if needed, and makes it and any
/// `-wal`/`-shm` files beside it owner-only (0600), tightening files an older version left open.
pub(crate) fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(parent)?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    drop(open.open(path)?);
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// Now as UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// UTC milliseconds as the ISO-8601 string the original's clients see (`2024-01-01T00:00:00.000Z`).
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Records that event `id` was processed; `Ok(true)` the first time, `Ok(false)` after.
/// Expects a table `processed_events(id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL)`.
pub async fn sqlite_mark_processed<'e, E>(exec: E, id: &str) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let done =
        sqlx::query("INSERT OR IGNORE INTO processed_events (id, processed_at) VALUES (?, ?)")
            .bind(id)
            .bind(now_ms())
            .execute(exec)
            .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_has_millis_and_z() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn database_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("store-mode-{}", crate::ids::new_object_id()));
        let db = dir.join("nested").join("t.db");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let pool = sqlite_pool(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(mode(&db), 0o600);
        for suffix in ["-wal", "-shm"] {
            assert_eq!(
                mode(&dir.join("nested").join(format!("t.db{suffix}"))),
                0o600,
                "{suffix}"
            );
        }
        assert_eq!(mode(&dir.join("nested")), 0o700);
        pool.close().await;
        // A file an older version created world-readable is tightened at the next start.
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let pool = sqlite_pool(&format!("sqlite:{}", db.display()))
            .await
            .unwrap();
        assert_eq!(mode(&db), 0o600);
        pool.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn processed_ids_are_recorded_once() {
        let pool = sqlite_pool("sqlite::memory:").await.unwrap();
        sqlx::query(
            "CREATE TABLE processed_events (id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        assert!(sqlite_mark_processed(&pool, "e1").await.unwrap());
        assert!(!sqlite_mark_processed(&pool, "e1").await.unwrap());
    }
}
