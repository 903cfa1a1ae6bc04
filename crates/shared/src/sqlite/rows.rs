//! Reading what SQLite gives back: its errors as [`StoreError`]s, rows decoded by [`first`] and
//! [`all`], statements built at run time ([`Query`]), and the processed-events record of
//! idempotent consumers ([`mark_processed`]).

use crate::store::{now_ms, StoreError};
use rusqlite::Connection;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match &e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(err, message) => match err.code {
                ErrorCode::ConstraintViolation
                    if matches!(
                        err.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
                {
                    StoreError::Conflict(message.clone().unwrap_or_else(|| e.to_string()))
                }
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull => StoreError::Unavailable(e.to_string()),
                _ => StoreError::Other(e.to_string()),
            },
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// Records that event `id` was processed; `Ok(true)` the first time, `Ok(false)` after.
/// Expects a table `processed_events(id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL)`.
pub fn mark_processed(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached("INSERT OR IGNORE INTO processed_events (id, processed_at) VALUES (?, ?)")?
        .execute(rusqlite::params![id, now_ms()])?;
    Ok(inserted == 1)
}

/// The first row `sql` yields for `params`, decoded, if any: a lookup, or an `UPDATE … RETURNING`
/// of at most one row (SQLite makes all of a statement's changes at its first step).
pub fn first<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    rows.next()?.map(decode).transpose()
}

/// Every row `sql` yields for `params`, decoded, in order.
pub fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// A statement built at run time (a list whose WHERE names only the filters set): its SQL text and
/// the values of its `?` parameters, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The SQL, one `?` per parameter.
    pub sql: String,
    /// The parameters, in placeholder order.
    pub params: Vec<rusqlite::types::Value>,
}

impl Query {
    /// A statement starting with `sql`, without parameters yet.
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a `?` parameter bound to `value`.
    pub fn bind(&mut self, value: impl Into<rusqlite::types::Value>) -> &mut Self {
        self.sql.push('?');
        self.params.push(value.into());
        self
    }

    /// Runs the statement (cached on `conn`) and reads the integer in its one row.
    pub fn count(&self, conn: &Connection) -> Result<i64, StoreError> {
        let mut stmt = conn.prepare_cached(&self.sql)?;
        Ok(stmt.query_row(rusqlite::params_from_iter(&self.params), |row| row.get(0))?)
    }

    /// Runs the statement (cached on `conn`) and decodes every row with `decode`.
    pub fn rows<T>(
        &self,
        conn: &Connection,
        decode: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        all(
            conn,
            &self.sql,
            rusqlite::params_from_iter(&self.params),
            decode,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::tests::memory;

    #[tokio::test]
    async fn processed_ids_are_recorded_once() {
        let db = memory().await;
        assert!(db.write(|tx| mark_processed(tx, "e1")).await.unwrap());
        assert!(!db.write(|tx| mark_processed(tx, "e1")).await.unwrap());
    }

    #[tokio::test]
    async fn a_built_query_binds_its_values_in_order() {
        let db = memory().await;
        db.write(|tx| Ok(tx.execute_batch("INSERT INTO t VALUES (1), (2), (3), (4);")?))
            .await
            .unwrap();
        let mut q = Query::new("SELECT x FROM t WHERE x >= ");
        q.bind(2).push(" AND x < ").bind(4).push(" ORDER BY x");
        assert_eq!(q.sql, "SELECT x FROM t WHERE x >= ? AND x < ? ORDER BY x");
        let rows = db
            .read(|c| q.rows(c, |row| Ok(row.get::<_, i64>(0)?)))
            .await
            .unwrap();
        assert_eq!(rows, vec![2, 3]);
        let mut n = Query::new("SELECT COUNT(*) FROM t WHERE x > ");
        n.bind(1);
        assert_eq!(db.read(|c| n.count(c)).await.unwrap(), 3);
    }
}
