//! Reading what SQLite gives back: its errors as [`StoreError`]s, rows decoded into their stored
//! shape by column name ([`Stored`], [`first`], [`all`]) or by hand ([`first_with`],
//! [`all_with`]), statements built at run time ([`Query`]), and the processed-events record of
//! idempotent consumers ([`mark_processed`]).

use crate::store::{now_ms, PageRequest, StoreError};
use rusqlite::Connection;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// A domain type kept as one row (and, in a MongoDB store, one document): `Row` is its stored
/// shape, a serde struct whose fields are the columns (the document's fields), mapped into the
/// domain type by `From` when every stored value is one, else checked by `TryFrom` (failing with a
/// [`StoreError`]). A row is decoded by column name, so a `SELECT` lists the columns of `Row` in
/// any order (a missing `Option` column reads as `None`).
pub trait Stored: TryFrom<Self::Row, Error: Into<StoreError>> {
    /// The stored shape.
    type Row: DeserializeOwned;
}

/// Declares the stored shape of a domain type whose fields are stored one for one, as they are:
/// the serde struct (field attributes such as `#[serde(rename = "_id")]` pass through), the
/// mappings from and back to the domain type, and [`Stored`].
///
/// ```ignore
/// shared::stored_as_is! {
///     /// A session as stored.
///     pub struct StoredSession for Session {
///         #[serde(rename = "_id", alias = "sid")]
///         sid: String,
///         user_id: String,
///     }
/// }
/// ```
#[macro_export]
macro_rules! stored_as_is {
    (
        $(#[$meta:meta])*
        $vis:vis struct $stored:ident for $domain:ty {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, serde::Serialize, serde::Deserialize)]
        $vis struct $stored {
            $($(#[$field_meta])* $field_vis $field: $ty),*
        }

        impl ::core::convert::From<&$domain> for $stored {
            fn from(value: &$domain) -> Self {
                Self {
                    $($field: ::core::clone::Clone::clone(&value.$field)),*
                }
            }
        }

        impl ::core::convert::From<$stored> for $domain {
            fn from(row: $stored) -> Self {
                Self {
                    $($field: row.$field),*
                }
            }
        }

        impl $crate::sqlite::Stored for $domain {
            type Row = $stored;
        }
    };
}

impl From<serde_rusqlite::Error> for StoreError {
    fn from(e: serde_rusqlite::Error) -> Self {
        match e {
            serde_rusqlite::Error::Rusqlite(e) => e.into(),
            other => StoreError::Other(format!("stored row is invalid: {other}")),
        }
    }
}

/// `row` decoded into the stored shape `R` by column name.
pub fn decode<R: DeserializeOwned>(row: &rusqlite::Row<'_>) -> Result<R, StoreError> {
    Ok(serde_rusqlite::from_row(row)?)
}

/// For a field of a stored shape kept as JSON text in a SQLite column and as a structure in a
/// MongoDB document (`#[serde(deserialize_with = "shared::sqlite::json_text")]`): reads either.
pub fn json_text<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOr<T> {
        Text(String),
        Value(T),
    }
    match TextOr::<T>::deserialize(d)? {
        TextOr::Text(text) => serde_json::from_str(&text).map_err(serde::de::Error::custom),
        TextOr::Value(v) => Ok(v),
    }
}

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

/// The first row `sql` yields for `params`, as `T`, if any: a lookup, or an `UPDATE … RETURNING`
/// of at most one row (SQLite makes all of a statement's changes at its first step).
pub fn first<T: Stored>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<T>, StoreError> {
    first_with(conn, sql, params, |row| {
        T::try_from(decode(row)?).map_err(Into::into)
    })
}

/// Every row `sql` yields for `params`, as `T`, in order.
pub fn all<T: Stored>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let columns = serde_rusqlite::columns_from_statement(&stmt);
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let stored: T::Row = serde_rusqlite::from_row_with_columns(row, &columns)?;
        out.push(T::try_from(stored).map_err(Into::into)?);
    }
    Ok(out)
}

/// The first row `sql` yields for `params`, decoded by `decode`, if any.
pub fn first_with<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    rows.next()?.map(decode).transpose()
}

/// Every row `sql` yields for `params`, decoded by `decode`, in order.
pub fn all_with<T>(
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

    /// Appends ` LIMIT ? OFFSET ?` bound to `page` (after the `ORDER BY`).
    pub fn page(&mut self, page: PageRequest) -> &mut Self {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(page.offset()).unwrap_or(i64::MAX);
        self.push(" LIMIT ")
            .bind(limit)
            .push(" OFFSET ")
            .bind(offset)
    }

    /// Runs the statement (cached on `conn`) and reads the integer in its one row.
    pub fn count(&self, conn: &Connection) -> Result<i64, StoreError> {
        let mut stmt = conn.prepare_cached(&self.sql)?;
        Ok(stmt.query_row(rusqlite::params_from_iter(&self.params), |row| row.get(0))?)
    }

    /// Runs the statement (cached on `conn`) and reads every row as `T`.
    pub fn rows<T: Stored>(&self, conn: &Connection) -> Result<Vec<T>, StoreError> {
        all(conn, &self.sql, rusqlite::params_from_iter(&self.params))
    }
}

/// One page of a list, mapped into `T`, and how many rows match in all: `count` is the list's
/// `SELECT COUNT(*)`, `rows` its page (the same filter, then [`Query::page`]). The counterpart of
/// `shared::mongo::page`.
pub fn page<T: Stored>(
    conn: &Connection,
    count: &Query,
    rows: &Query,
) -> Result<(Vec<T>, u64), StoreError> {
    let total = count.count(conn)?;
    Ok((rows.rows(conn)?, u64::try_from(total).unwrap_or(0)))
}

#[cfg(test)]
mod tests;
