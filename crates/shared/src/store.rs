//! Storage helpers shared by every service's store: the error every store returns, paging, and
//! SQLite connection setup (file under `./data`, WAL, busy timeout).

use crate::error::ApiError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
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
pub async fn sqlite_pool(url: &str) -> Result<SqlitePool, StoreError> {
    let memory = url.contains(":memory:");
    if !memory {
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or("");
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {parent:?}: {e}"))
                })?;
            }
        }
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
    // An in-memory database exists per connection: keep exactly one.
    let max = if memory { 1 } else { 8 };
    SqlitePoolOptions::new()
        .max_connections(max)
        .min_connections(if memory { 1 } else { 0 })
        .idle_timeout(if memory {
            None
        } else {
            Some(Duration::from_secs(300))
        })
        .max_lifetime(if memory {
            None
        } else {
            Some(Duration::from_secs(1800))
        })
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await
        .map_err(StoreError::from)
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
