//! SQLite building blocks of the order store: the schema, row mapping, and the conditional
//! `UPDATE … RETURNING` that every state change goes through, with its event in the same transaction.

use crate::domain::{Order, OrderStatus, PaymentStatus, Transition};
use shared::events::{sqlite_outbox_insert, types, EventEnvelope};
use shared::sqlite::Transaction;
use shared::store::{now_ms, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite};

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

pub(super) const COLS: &str =
    "id, user_id, items, total_cents, status, payment_status, payment_id, \
    shipping_address, tracking_number, notes, created_at, updated_at";

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is invalid: {value:?}"))
}

pub(super) fn row_to_order(row: &SqliteRow) -> Result<Order, StoreError> {
    let status: String = row.try_get("status")?;
    let payment_status: String = row.try_get("payment_status")?;
    let items: String = row.try_get("items")?;
    let address: String = row.try_get("shipping_address")?;
    Ok(Order {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        items: serde_json::from_str(&items)?,
        total_cents: row.try_get("total_cents")?,
        status: OrderStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        payment_status: PaymentStatus::parse(&payment_status)
            .ok_or_else(|| bad("payment status", &payment_status))?,
        payment_id: row.try_get("payment_id")?,
        shipping_address: serde_json::from_str(&address)?,
        tracking_number: row.try_get("tracking_number")?,
        notes: row.try_get("notes")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) async fn get_in(tx: &mut Transaction, id: &str) -> Result<Option<Order>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLS} FROM orders WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(row_to_order).transpose()
}

pub(super) async fn queue_release_in(
    tx: &mut Transaction,
    order_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT OR IGNORE INTO release_tasks (order_id, next_attempt_at) VALUES (?, ?)")
        .bind(order_id)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Runs a conditional `UPDATE … RETURNING` and, when it applied, emits `OrderUpdated`; when it did
/// not, reports whether the order exists.
pub(super) async fn conditional<'q>(
    tx: &mut Transaction,
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    id: &str,
    event_type: &str,
    source: &str,
) -> Result<Transition, StoreError> {
    let row = query.fetch_optional(&mut **tx).await?;
    match row {
        Some(row) => {
            let order = row_to_order(&row)?;
            let data = if event_type == types::ORDER_CANCELLED {
                order.cancelled_event()
            } else {
                order.updated_event()
            };
            sqlite_outbox_insert(&mut **tx, &EventEnvelope::new(event_type, data, source)).await?;
            Ok(Transition::Applied(order))
        }
        None => Ok(match get_in(tx, id).await? {
            Some(order) => Transition::Refused(order),
            None => Transition::NotFound,
        }),
    }
}
