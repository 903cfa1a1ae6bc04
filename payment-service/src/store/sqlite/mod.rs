//! The SQLite payment store on [`Database`]: plain queries, migrations run on connect, each state
//! change a conditional `UPDATE … RETURNING` (with its outbox row in the same write transaction).

#[cfg(test)]
mod plans;
mod rows;

use super::{Outcome, PaymentStore};
use crate::domain::{Payment, PaymentStatus};
use async_trait::async_trait;
use rows::{insert_payment, SCHEMA};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};
use shared::events::{outbox_insert, EventEnvelope, OutboxStore, SqliteOutbox};
use shared::sqlite::{all, first, mark_processed, Database};
use shared::store::{now_ms, StoreError};
use std::sync::Arc;

/// Payments the worker must act on, oldest first: pending, completed with a refund requested, and
/// processing or refunding ones gone stale (`?` = the staleness bound). The first condition is the
/// `payments_work` index's own, so that the scan reads only that index (`INDEXED BY` makes SQLite
/// refuse the statement rather than fall back to reading every completed payment).
const DUE_WORK: &str = "SELECT * FROM payments INDEXED BY payments_work \
    WHERE (status IN ('pending', 'processing', 'refunding') \
    OR (status = 'completed' AND refund_requested = 1)) \
    AND (status NOT IN ('processing', 'refunding') OR updated_at < ?) \
    ORDER BY created_at, id LIMIT ?";

/// The payment of an order (served by the unique index on `order_id`).
const BY_ORDER: &str = "SELECT * FROM payments WHERE order_id = ?";

/// Payments left mid-charge by a stop are retried; those left mid-refund are resumed.
/// Gives one payment's interrupted work back (the SET expressions read the row as it was).
const GIVE_BACK: &str = "UPDATE payments SET \
    status = CASE status WHEN 'processing' THEN 'pending' ELSE 'completed' END, \
    refund_requested = CASE status WHEN 'refunding' THEN 1 ELSE refund_requested END, \
    updated_at = ? WHERE id = ? AND status IN ('processing', 'refunding')";

/// Payments in a SQLite database.
#[derive(Clone)]
pub struct SqlitePaymentStore {
    db: Database,
}

impl SqlitePaymentStore {
    /// Opens `url` and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = Database::open(url).await?;
        db.write(|tx| Ok(tx.execute_batch(SCHEMA)?)).await?;
        db.write(|tx| Ok(tx.execute_batch(shared::events::SQLITE_OUTBOX_SCHEMA)?))
            .await?;
        Ok(Self { db })
    }

    /// One conditional update of a single payment, returning it when the condition held; then
    /// `event` goes into the outbox in the same transaction.
    async fn transition(
        &self,
        sql: &'static str,
        binds: Vec<Value>,
        event: Option<&EventEnvelope>,
    ) -> Result<Option<Payment>, StoreError> {
        let event = event.cloned();
        self.db
            .write(move |tx| {
                let payment = first::<Payment>(tx, sql, params_from_iter(binds))?;
                if let (Some(_), Some(event)) = (&payment, &event) {
                    outbox_insert(tx, event)?;
                }
                Ok(payment)
            })
            .await
    }
}

/// A text bind.
fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[async_trait]
impl PaymentStore for SqlitePaymentStore {
    async fn insert(&self, payment: &Payment) -> Result<(), StoreError> {
        let payment = payment.clone();
        self.db
            .write(move |tx| insert_payment(tx, &payment, false).map(|_| ()))
            .await
    }

    async fn record_order_created(
        &self,
        event_id: &str,
        payment: &Payment,
    ) -> Result<bool, StoreError> {
        let event_id = event_id.to_owned();
        let mut payment = payment.clone();
        self.db
            .write(move |tx| {
                if !mark_processed(tx, &event_id)? {
                    return Ok(false);
                }
                let cancelled: i64 = tx
                    .prepare_cached("SELECT COUNT(*) FROM cancelled_orders WHERE order_id = ?")?
                    .query_row(params![payment.order_id], |row| row.get(0))?;
                if cancelled > 0 {
                    // The cancellation overtook the creation: record the payment, never charge it.
                    payment.status = PaymentStatus::Cancelled;
                    payment.refund_requested = true;
                }
                insert_payment(tx, &payment, true)
            })
            .await
    }

    async fn record_order_cancelled(
        &self,
        event_id: &str,
        order_id: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let event_id = event_id.to_owned();
        let order_id = order_id.to_owned();
        self.db
            .write(move |tx| {
                if !mark_processed(tx, &event_id)? {
                    return Ok(None);
                }
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO cancelled_orders (order_id, cancelled_at) VALUES (?, ?)",
                )?
                .execute(params![order_id, now_ms()])?;
                first::<Payment>(
                    tx,
                    "UPDATE payments SET refund_requested = 1, updated_at = ?, \
                     status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END \
                     WHERE order_id = ? RETURNING *",
                    params![now_ms(), order_id],
                )
            })
            .await
    }

    async fn mark_event_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        let event_id = event_id.to_owned();
        self.db.write(move |tx| mark_processed(tx, &event_id)).await
    }

    async fn get(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        self.db
            .read(|conn| first::<Payment>(conn, "SELECT * FROM payments WHERE id = ?", [id]))
            .await
    }

    async fn get_by_order(&self, order_id: &str) -> Result<Option<Payment>, StoreError> {
        self.db
            .read(|conn| first::<Payment>(conn, BY_ORDER, [order_id]))
            .await
    }

    async fn claim_pending(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'processing', updated_at = ? \
                   WHERE id = ? AND status = 'pending' RETURNING *";
        self.transition(sql, vec![Value::Integer(now_ms()), text(id)], None)
            .await
    }

    async fn claim_failed(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'processing', attempt = attempt + 1, \
                   failure_reason = NULL, updated_at = ? \
                   WHERE id = ? AND status = 'failed' AND refund_requested = 0 RETURNING *";
        self.transition(sql, vec![Value::Integer(now_ms()), text(id)], None)
            .await
    }

    async fn settle(
        &self,
        id: &str,
        outcome: Outcome<'_>,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        let now = Value::Integer(now_ms());
        let (sql, binds) = match outcome {
            Outcome::Charged { transaction_id } => (
                "UPDATE payments SET status = 'completed', transaction_id = ?, updated_at = ? \
                 WHERE id = ? AND status = 'processing' RETURNING *",
                vec![text(transaction_id), now, text(id)],
            ),
            Outcome::Failed { reason } => (
                "UPDATE payments SET status = 'failed', failure_reason = ?, updated_at = ? \
                 WHERE id = ? AND status = 'processing' RETURNING *",
                vec![text(reason), now, text(id)],
            ),
            Outcome::Refunded { refund_cents } => (
                "UPDATE payments SET status = 'refunded', refund_cents = ?, refunded_at = ?, \
                 updated_at = ? WHERE id = ? AND status = 'refunding' RETURNING *",
                vec![Value::Integer(refund_cents), now.clone(), now, text(id)],
            ),
        };
        self.transition(sql, binds, Some(event)).await
    }

    async fn begin_refund(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'refunding', updated_at = ? \
                   WHERE id = ? AND status = 'completed' RETURNING *";
        self.transition(sql, vec![Value::Integer(now_ms()), text(id)], None)
            .await
    }

    async fn abort_refund(&self, id: &str) -> Result<(), StoreError> {
        let sql = "UPDATE payments SET status = 'completed', updated_at = ? \
                   WHERE id = ? AND status = 'refunding' RETURNING *";
        self.transition(sql, vec![Value::Integer(now_ms()), text(id)], None)
            .await
            .map(|_| ())
    }

    async fn due_work(&self, limit: u32, stale_before: i64) -> Result<Vec<Payment>, StoreError> {
        self.db
            .read(|conn| all::<Payment>(conn, DUE_WORK, params![stale_before, limit]))
            .await
    }

    async fn claim_stale(
        &self,
        id: &str,
        stale_before: i64,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET updated_at = ? WHERE id = ? \
                   AND status IN ('processing', 'refunding') AND updated_at < ? RETURNING *";
        let binds = vec![
            Value::Integer(now_ms()),
            text(id),
            Value::Integer(stale_before),
        ];
        self.transition(sql, binds, None).await
    }

    async fn give_back(&self, ids: &[String]) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.db
            .write(move |tx| {
                let now = now_ms();
                let mut give_back = tx.prepare_cached(GIVE_BACK)?;
                for id in &ids {
                    give_back.execute(params![now, id])?;
                }
                Ok(())
            })
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqliteOutbox::new(self.db.clone()))
    }
}
