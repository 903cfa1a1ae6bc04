//! The SQLite payment store: plain `sqlx` queries, migrations run on connect, each state change a
//! conditional `UPDATE … RETURNING` (with its outbox row in the same transaction).

#[cfg(test)]
mod plans;
mod rows;

use super::PaymentStore;
use crate::domain::{Payment, PaymentStatus};
use async_trait::async_trait;
use rows::{insert_payment, payment_from_row, Bind, SCHEMA};
use shared::events::{sqlite_outbox_insert, EventEnvelope, OutboxStore, SqlxOutbox};
use shared::sqlite::SqlitePool;
use shared::store::{now_ms, sqlite_mark_processed, sqlite_pool, StoreError};
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
const RECOVER_CHARGES: &str =
    "UPDATE payments SET status = 'pending', updated_at = ? WHERE status = 'processing'";
const RECOVER_REFUNDS: &str = "SELECT * FROM payments WHERE status = 'refunding'";

/// Payments in a SQLite database.
#[derive(Clone)]
pub struct SqlitePaymentStore {
    pool: SqlitePool,
}

impl SqlitePaymentStore {
    /// Opens `url` and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = sqlite_pool(url).await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        sqlx::raw_sql(shared::events::SQLITE_OUTBOX_SCHEMA)
            .execute(&pool)
            .await?;
        Ok(Self { pool })
    }

    /// One conditional update of a single payment, returning it when the condition held.
    async fn transition(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        event: Option<&EventEnvelope>,
    ) -> Result<Option<Payment>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut q = sqlx::query(sql);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(*s),
                Bind::Int(i) => q.bind(*i),
            };
        }
        let row = q.fetch_optional(&mut *tx).await?;
        let payment = row.as_ref().map(payment_from_row).transpose()?;
        if let (Some(_), Some(event)) = (&payment, event) {
            sqlite_outbox_insert(&mut *tx, event).await?;
        }
        tx.commit().await?;
        Ok(payment)
    }
}

#[async_trait]
impl PaymentStore for SqlitePaymentStore {
    async fn insert(&self, payment: &Payment) -> Result<(), StoreError> {
        insert_payment(&self.pool, payment, false).await.map(|_| ())
    }

    async fn record_order_created(
        &self,
        event_id: &str,
        payment: &Payment,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !sqlite_mark_processed(&mut *tx, event_id).await? {
            return Ok(false);
        }
        let (cancelled,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM cancelled_orders WHERE order_id = ?")
                .bind(&payment.order_id)
                .fetch_one(&mut *tx)
                .await?;
        let mut payment = payment.clone();
        if cancelled > 0 {
            // The cancellation overtook the creation: record the payment, never charge it.
            payment.status = PaymentStatus::Cancelled;
            payment.refund_requested = true;
        }
        let created = insert_payment(&mut *tx, &payment, true).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn record_order_cancelled(
        &self,
        event_id: &str,
        order_id: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !sqlite_mark_processed(&mut *tx, event_id).await? {
            return Ok(None);
        }
        sqlx::query(
            "INSERT OR IGNORE INTO cancelled_orders (order_id, cancelled_at) VALUES (?, ?)",
        )
        .bind(order_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "UPDATE payments SET refund_requested = 1, updated_at = ?, \
             status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END \
             WHERE order_id = ? RETURNING *",
        )
        .bind(now_ms())
        .bind(order_id)
        .fetch_optional(&mut *tx)
        .await?;
        let payment = row.as_ref().map(payment_from_row).transpose()?;
        tx.commit().await?;
        Ok(payment)
    }

    async fn mark_event_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        sqlite_mark_processed(&self.pool, event_id).await
    }

    async fn get(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query("SELECT * FROM payments WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn get_by_order(&self, order_id: &str) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(BY_ORDER)
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn claim_pending(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'processing', updated_at = ? \
                   WHERE id = ? AND status = 'pending' RETURNING *";
        self.transition(sql, &[Bind::Int(now_ms()), Bind::Text(id)], None)
            .await
    }

    async fn claim_failed(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'processing', attempt = attempt + 1, \
                   failure_reason = NULL, updated_at = ? \
                   WHERE id = ? AND status = 'failed' AND refund_requested = 0 RETURNING *";
        self.transition(sql, &[Bind::Int(now_ms()), Bind::Text(id)], None)
            .await
    }

    async fn complete(
        &self,
        id: &str,
        transaction_id: &str,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'completed', transaction_id = ?, updated_at = ? \
                   WHERE id = ? AND status = 'processing' RETURNING *";
        let binds = [
            Bind::Text(transaction_id),
            Bind::Int(now_ms()),
            Bind::Text(id),
        ];
        self.transition(sql, &binds, Some(event)).await
    }

    async fn fail(
        &self,
        id: &str,
        reason: &str,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'failed', failure_reason = ?, updated_at = ? \
                   WHERE id = ? AND status = 'processing' RETURNING *";
        let binds = [Bind::Text(reason), Bind::Int(now_ms()), Bind::Text(id)];
        self.transition(sql, &binds, Some(event)).await
    }

    async fn begin_refund(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET status = 'refunding', updated_at = ? \
                   WHERE id = ? AND status = 'completed' RETURNING *";
        self.transition(sql, &[Bind::Int(now_ms()), Bind::Text(id)], None)
            .await
    }

    async fn finish_refund(
        &self,
        id: &str,
        refund_cents: i64,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        let now = now_ms();
        let sql = "UPDATE payments SET status = 'refunded', refund_cents = ?, refunded_at = ?, \
                   updated_at = ? WHERE id = ? AND status = 'refunding' RETURNING *";
        let binds = [
            Bind::Int(refund_cents),
            Bind::Int(now),
            Bind::Int(now),
            Bind::Text(id),
        ];
        self.transition(sql, &binds, Some(event)).await
    }

    async fn abort_refund(&self, id: &str) -> Result<(), StoreError> {
        let sql = "UPDATE payments SET status = 'completed', updated_at = ? \
                   WHERE id = ? AND status = 'refunding' RETURNING *";
        self.transition(sql, &[Bind::Int(now_ms()), Bind::Text(id)], None)
            .await
            .map(|_| ())
    }

    async fn due_work(&self, limit: u32, stale_before: i64) -> Result<Vec<Payment>, StoreError> {
        let rows = sqlx::query(DUE_WORK)
            .bind(stale_before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn claim_stale(
        &self,
        id: &str,
        stale_before: i64,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = "UPDATE payments SET updated_at = ? WHERE id = ? \
                   AND status IN ('processing', 'refunding') AND updated_at < ? RETURNING *";
        let binds = [Bind::Int(now_ms()), Bind::Text(id), Bind::Int(stale_before)];
        self.transition(sql, &binds, None).await
    }

    async fn recover(&self) -> Result<Vec<Payment>, StoreError> {
        sqlx::query(RECOVER_CHARGES)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        let rows = sqlx::query(RECOVER_REFUNDS).fetch_all(&self.pool).await?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqlxOutbox::new(self.pool.clone()))
    }
}
