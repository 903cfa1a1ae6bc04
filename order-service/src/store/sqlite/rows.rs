//! SQLite building blocks of the order store: the schema, row mapping, and the conditional
//! `UPDATE … RETURNING` that every state change goes through, with its event in the same transaction.

use super::super::Announce;
use crate::domain::{Order, Transition};
use rusqlite::{Connection, Params};
use shared::events::outbox_insert;
use shared::sqlite::first;
use shared::store::{now_ms, StoreError};

/// Tables of the order database (the outbox comes from `shared::events`).
pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    items TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    status TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    payment_id TEXT,
    shipping_address TEXT NOT NULL,
    tracking_number TEXT,
    notes TEXT,
    idempotency_key TEXT,
    fingerprint TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS orders_user_idempotency
    ON orders (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- One index per list (filter columns, then the sort: newest first, id breaking ties), so a page
-- and its total cost the same whatever else is stored. The two dropped are older shapes.
DROP INDEX IF EXISTS orders_user_created;
DROP INDEX IF EXISTS orders_status;
CREATE INDEX IF NOT EXISTS orders_user ON orders (user_id, created_at, id);
CREATE INDEX IF NOT EXISTS orders_user_status ON orders (user_id, status, created_at, id);
CREATE INDEX IF NOT EXISTS orders_status_created ON orders (status, created_at, id);
CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at, id);
CREATE TABLE IF NOT EXISTS processed_events (
    id TEXT PRIMARY KEY,
    processed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS release_tasks (
    order_id TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    done_at INTEGER
);
-- Only the releases still to do, in the order the worker takes them.
CREATE INDEX IF NOT EXISTS release_tasks_due ON release_tasks (next_attempt_at, order_id)
    WHERE done_at IS NULL;";

/// The upgrade of a database an earlier version wrote (`PRAGMA user_version` 0) to version 1:
/// the JSON fields of `items` and `shipping_address` renamed to snake_case. A quoted name followed
/// by `:` only occurs as a key (quotes inside JSON strings are escaped).
const UPGRADE_1: &str = "UPDATE orders SET
    items = replace(replace(items, '\"productId\":', '\"product_id\":'),
        '\"priceCents\":', '\"price_cents\":'),
    shipping_address = replace(shipping_address, '\"zipCode\":', '\"zip_code\":');
PRAGMA user_version = 1;";

/// Runs the upgrades the database has not had yet, inside the caller's transaction.
pub(super) fn upgrade(tx: &Connection) -> Result<(), StoreError> {
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version < 1 {
        tx.execute_batch(UPGRADE_1)?;
    }
    Ok(())
}

/// The columns of an order (its stored shape, `StoredOrder`, read by column name).
pub(super) const COLS: &str =
    "id, user_id, items, total_cents, status, payment_status, payment_id, \
    shipping_address, tracking_number, notes, created_at, updated_at";

/// One order by id, read on `conn` (a reader, or the writer inside a transaction).
pub(super) fn get_in(conn: &Connection, id: &str) -> Result<Option<Order>, StoreError> {
    first(
        conn,
        &format!("SELECT {COLS} FROM orders WHERE id = ?"),
        [id],
    )
}

/// Queues a stock release for `order_id` inside the caller's transaction (no-op if queued).
pub(super) fn queue_release_in(conn: &Connection, order_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO release_tasks (order_id, next_attempt_at) VALUES (?, ?)",
    )?
    .execute(rusqlite::params![order_id, now_ms()])?;
    Ok(())
}

/// Runs the conditional `UPDATE … RETURNING {COLS}` of `sql` with `params` inside the caller's
/// transaction and, when it applied, queues the event `announce` makes of the order after it in
/// the outbox; when it did not, reports whether order `id` exists.
pub(super) fn conditional(
    tx: &Connection,
    sql: &str,
    params: impl Params,
    id: &str,
    announce: Announce,
) -> Result<Transition, StoreError> {
    match first::<Order>(tx, sql, params)? {
        Some(order) => {
            outbox_insert(tx, &announce(&order))?;
            Ok(Transition::Applied(order))
        }
        None => Ok(match get_in(tx, id)? {
            Some(order) => Transition::Refused(order),
            None => Transition::NotFound,
        }),
    }
}
