//! SQLite rows of the payment store: the schema and the insert (rows are read as
//! `store::shapes::StoredPayment`).

use crate::domain::Payment;
use rusqlite::{params, Connection};
use shared::store::StoreError;

/// The payment tables and their indexes (the outbox is `SQLITE_OUTBOX_SCHEMA`).
pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    transaction_id TEXT,
    failure_reason TEXT,
    refund_cents INTEGER,
    refunded_at INTEGER,
    refund_requested INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- Read by nothing since startup recovery gave way to claims given back: gone.
DROP INDEX IF EXISTS payments_status;
-- The worker's work (see `DUE_WORK`), oldest first: only payments with something to do are in it,
-- however many completed ones pile up.
CREATE INDEX IF NOT EXISTS payments_work ON payments (created_at, id)
    WHERE status IN ('pending', 'processing', 'refunding')
    OR (status = 'completed' AND refund_requested = 1);
CREATE INDEX IF NOT EXISTS payments_user ON payments (user_id);
CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cancelled_orders (order_id TEXT PRIMARY KEY, cancelled_at INTEGER NOT NULL);";

/// Inserts `p` (`or_ignore`: a duplicate order is skipped, `Ok(false)`).
pub(super) fn insert_payment(
    conn: &Connection,
    p: &Payment,
    or_ignore: bool,
) -> Result<bool, StoreError> {
    let sql = if or_ignore { INSERT_OR_IGNORE } else { INSERT };
    let inserted = conn.prepare_cached(sql)?.execute(params![
        p.id,
        p.order_id,
        p.user_id,
        p.amount_cents,
        p.currency,
        p.status.as_str(),
        p.method.as_str(),
        p.attempt,
        p.refund_requested,
        p.created_at,
        p.updated_at,
    ])?;
    Ok(inserted == 1)
}

/// Inserts a payment; a second payment of an order is a conflict.
const INSERT: &str = "INSERT INTO payments (id, order_id, user_id, amount_cents, currency, \
    status, method, attempt, refund_requested, created_at, updated_at) \
    VALUES (?,?,?,?,?,?,?,?,?,?,?)";
/// Inserts a payment unless its order has one.
const INSERT_OR_IGNORE: &str = "INSERT OR IGNORE INTO payments (id, order_id, user_id, \
    amount_cents, currency, status, method, attempt, refund_requested, created_at, updated_at) \
    VALUES (?,?,?,?,?,?,?,?,?,?,?)";
