//! SQLite rows of the payment store: the schema, row ↔ `Payment` mapping and the insert.

use crate::domain::{Payment, PaymentMethod, PaymentStatus};
use shared::store::StoreError;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

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
CREATE INDEX IF NOT EXISTS payments_status ON payments (status, created_at);
-- The worker's work (see `DUE_WORK`), oldest first: only payments with something to do are in it,
-- however many completed ones pile up.
CREATE INDEX IF NOT EXISTS payments_work ON payments (created_at, id)
    WHERE status IN ('pending', 'processing', 'refunding')
    OR (status = 'completed' AND refund_requested = 1);
CREATE INDEX IF NOT EXISTS payments_user ON payments (user_id);
CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cancelled_orders (order_id TEXT PRIMARY KEY, cancelled_at INTEGER NOT NULL);";

pub(super) enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

pub(super) fn payment_from_row(row: &SqliteRow) -> Result<Payment, StoreError> {
    let status: String = row.try_get("status")?;
    let method: String = row.try_get("method")?;
    Ok(Payment {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        user_id: row.try_get("user_id")?,
        amount_cents: row.try_get("amount_cents")?,
        currency: row.try_get("currency")?,
        status: PaymentStatus::parse(&status)
            .ok_or_else(|| StoreError::Other(format!("stored status {status:?} is unknown")))?,
        method: PaymentMethod::parse(&method)
            .ok_or_else(|| StoreError::Other(format!("stored method {method:?} is unknown")))?,
        attempt: row.try_get("attempt")?,
        transaction_id: row.try_get("transaction_id")?,
        failure_reason: row.try_get("failure_reason")?,
        refund_cents: row.try_get("refund_cents")?,
        refunded_at: row.try_get("refunded_at")?,
        refund_requested: row.try_get("refund_requested")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Inserts `p` (`or_ignore`: a duplicate order is skipped, `Ok(false)`).
pub(super) async fn insert_payment<'e, E>(
    exec: E,
    p: &Payment,
    or_ignore: bool,
) -> Result<bool, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let verb = if or_ignore {
        "INSERT OR IGNORE"
    } else {
        "INSERT"
    };
    let sql = format!(
        "{verb} INTO payments (id, order_id, user_id, amount_cents, currency, status, method, \
         attempt, refund_requested, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    );
    let done = sqlx::query(&sql)
        .bind(&p.id)
        .bind(&p.order_id)
        .bind(&p.user_id)
        .bind(p.amount_cents)
        .bind(&p.currency)
        .bind(p.status.as_str())
        .bind(p.method.as_str())
        .bind(p.attempt)
        .bind(p.refund_requested)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(exec)
        .await?;
    Ok(done.rows_affected() == 1)
}
