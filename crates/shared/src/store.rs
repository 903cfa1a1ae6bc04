//! Storage helpers shared by every service's store: the error every store returns, paging, the
//! backend a `DATABASE_URL` selects and timestamps (SQLite itself is in `crate::sqlite`).

use crate::error::ApiError;

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

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Other(format!("stored JSON is invalid: {e}"))
    }
}

/// What an infallible mapping from a stored shape ([`crate::sqlite::Stored`]) fails with: never.
impl From<std::convert::Infallible> for StoreError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl StoreError {
    /// A stored value that does not read back: `what` names the field, `value` is what is stored.
    pub fn invalid(what: &str, value: &str) -> Self {
        StoreError::Other(format!("stored {what} is invalid: {value:?}"))
    }
}

/// Reads a stored spelling (of a string enum, e.g. a status): the value it names, or
/// [`StoreError::invalid`].
pub fn parse_stored<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| StoreError::invalid(what, value))
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
    /// Page size (1–[`MAX_LIMIT`](Self::MAX_LIMIT)).
    pub limit: u64,
}

impl PageRequest {
    /// The highest `page` a client may ask for.
    pub const MAX_PAGE: u64 = 1_000_000;
    /// The highest `limit`.
    pub const MAX_LIMIT: u64 = 100;

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

/// Now as UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A duration in whole milliseconds, as stored times count them (saturating far beyond any lease).
pub fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// UTC milliseconds as the ISO-8601 string the original's clients see (`2024-01-01T00:00:00.000Z`).
pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_spelling_reads_back_or_names_its_field_and_value() {
        assert_eq!(parse_stored::<u8>("count", "7").ok(), Some(7));
        let e = parse_stored::<u8>("status", "shipped?")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("database error: stored status is invalid: \"shipped?\"")
        );
    }

    #[test]
    fn iso_has_millis_and_z() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
    }
}
