//! The SQLite order store: orders, outbox, processed event ids and queued stock releases in one
//! database, so each change and its events commit together.

#[cfg(test)]
mod plans;
mod rows;

use super::{IdempotencyKey, OrderFilter, OrderStore};
use crate::domain::{Order, OrderStatus, PaymentChange, Transition};
use async_trait::async_trait;
use rows::{conditional, queue_release_in, row_to_order, COLS, SCHEMA};
use shared::events::{
    sqlite_outbox_insert, types, EventEnvelope, OutboxStore, SqlxOutbox, SQLITE_OUTBOX_SCHEMA,
};
use shared::sqlite::SqlitePool;
use shared::store::{now_ms, sqlite_mark_processed, sqlite_pool, PageRequest, StoreError};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::sync::Arc;
use std::time::Duration;

/// Orders in a SQLite database.
#[derive(Clone)]
pub struct SqliteOrderStore {
    pool: SqlitePool,
}

impl SqliteOrderStore {
    /// Opens `url` and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = sqlite_pool(url).await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        sqlx::raw_sql(SQLITE_OUTBOX_SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }
}

/// The order a user created with an idempotency key (served by `orders_user_idempotency`).
fn find_by_key_sql() -> String {
    format!("SELECT {COLS}, fingerprint FROM orders WHERE user_id = ? AND idempotency_key = ?")
}

/// Releases due now, oldest first (served by `release_tasks_due`).
const DUE_RELEASES: &str = "SELECT order_id FROM release_tasks \
    WHERE done_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, order_id LIMIT ?";

/// The WHERE clause of a list. It names only the filters that are set, so that SQLite picks the
/// index made for that list (a `?1 IS NULL OR user_id = ?1` form makes it scan every order).
fn push_filter<'a>(q: &mut QueryBuilder<'a, Sqlite>, filter: &'a OrderFilter) {
    let mut glue = " WHERE ";
    if let Some(user_id) = &filter.user_id {
        q.push(glue).push("user_id = ").push_bind(user_id.as_str());
        glue = " AND ";
    }
    if let Some(status) = filter.status {
        q.push(glue).push("status = ").push_bind(status.as_str());
    }
}

/// The total and the page of a list.
fn list_queries(
    filter: &OrderFilter,
    page: PageRequest,
) -> (QueryBuilder<'_, Sqlite>, QueryBuilder<'_, Sqlite>) {
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM orders");
    push_filter(&mut count, filter);
    let mut rows = QueryBuilder::new(format!("SELECT {COLS} FROM orders"));
    push_filter(&mut rows, filter);
    rows.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(page.limit as i64)
        .push(" OFFSET ")
        .push_bind(page.offset() as i64);
    (count, rows)
}

#[async_trait]
impl OrderStore for SqliteOrderStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create(
        &self,
        order: &Order,
        key: Option<&IdempotencyKey>,
        event: &EventEnvelope,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO orders ({COLS}, idempotency_key, fingerprint) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&order.id)
        .bind(&order.user_id)
        .bind(serde_json::to_string(&order.items)?)
        .bind(order.total_cents)
        .bind(order.status.as_str())
        .bind(order.payment_status.as_str())
        .bind(&order.payment_id)
        .bind(serde_json::to_string(&order.shipping_address)?)
        .bind(&order.tracking_number)
        .bind(&order.notes)
        .bind(order.created_at)
        .bind(order.updated_at)
        .bind(key.map(|k| &k.key))
        .bind(key.map(|k| &k.fingerprint))
        .execute(&mut *tx)
        .await?;
        sqlite_outbox_insert(&mut *tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_by_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<(Order, String)>, StoreError> {
        let row = sqlx::query(&find_by_key_sql())
            .bind(user_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some((row_to_order(&row)?, row.try_get("fingerprint")?))),
            None => Ok(None),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLS} FROM orders WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_order).transpose()
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<Order>, u64), StoreError> {
        let (mut count, mut rows) = list_queries(filter, page);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let rows = rows.build().fetch_all(&self.pool).await?;
        let orders = rows.iter().map(row_to_order).collect::<Result<_, _>>()?;
        Ok((orders, total.max(0) as u64))
    }

    async fn cancel(
        &self,
        id: &str,
        owner: Option<&str>,
        from: &[OrderStatus],
        source: &str,
    ) -> Result<Transition, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The statuses are the enum's own spellings, never client input.
        let from: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "UPDATE orders SET status = 'cancelled', updated_at = ?1 \
             WHERE id = ?2 AND status IN ({}) \
             AND (?3 IS NULL OR user_id = ?3) RETURNING {COLS}",
            if from.is_empty() {
                "NULL".to_string()
            } else {
                from.join(", ")
            }
        );
        let query = sqlx::query(&sql).bind(now_ms()).bind(id).bind(owner);
        let outcome = conditional(&mut tx, query, id, types::ORDER_CANCELLED, source).await?;
        let outcome = match outcome {
            Transition::Applied(order) => {
                queue_release_in(&mut tx, id).await?;
                Transition::Applied(order)
            }
            Transition::Refused(order) if owner.is_some_and(|o| o != order.user_id) => {
                Transition::NotFound
            }
            other => other,
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn advance(
        &self,
        id: &str,
        from: OrderStatus,
        to: OrderStatus,
        tracking_number: Option<&str>,
        source: &str,
    ) -> Result<Transition, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "UPDATE orders SET status = ?1, tracking_number = COALESCE(?2, tracking_number), \
             updated_at = ?3 WHERE id = ?4 AND status = ?5 AND payment_status = 'completed' \
             RETURNING {COLS}"
        );
        let query = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(tracking_number)
            .bind(now_ms())
            .bind(id)
            .bind(from.as_str());
        let outcome = conditional(&mut tx, query, id, types::ORDER_UPDATED, source).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn apply_payment(
        &self,
        event_id: &str,
        order_id: &str,
        change: &PaymentChange,
        source: &str,
    ) -> Result<Option<Transition>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !sqlite_mark_processed(&mut *tx, event_id).await? {
            return Ok(None);
        }
        let now = now_ms();
        // Every variant binds ?1 (its value), ?2 (now), ?3 (the order id).
        let (sql, value) = match change {
            // A payment that lands after the order was cancelled is still recorded, so that the
            // refund that follows the cancellation can be shown.
            PaymentChange::Processed { payment_id } => (
                format!(
                    "UPDATE orders SET \
                     status = CASE WHEN status = 'pending' THEN 'confirmed' ELSE status END, \
                     payment_status = 'completed', payment_id = ?1, updated_at = ?2 \
                     WHERE id = ?3 AND payment_status IN ('pending', 'processing') \
                     AND status IN ('pending', 'cancelled') RETURNING {COLS}"
                ),
                Some(payment_id.clone()),
            ),
            PaymentChange::Failed { reason } => (
                format!(
                    "UPDATE orders SET status = 'failed', payment_status = 'failed', notes = ?1, \
                     updated_at = ?2 WHERE id = ?3 AND status = 'pending' RETURNING {COLS}"
                ),
                Some(reason.clone()),
            ),
            PaymentChange::Refunded => (
                format!(
                    "UPDATE orders SET payment_status = 'refunded', updated_at = ?2 \
                     WHERE id = ?3 AND payment_status <> 'refunded' AND ?1 IS NULL \
                     RETURNING {COLS}"
                ),
                None,
            ),
        };
        let query = sqlx::query(&sql).bind(value).bind(now).bind(order_id);
        let outcome = conditional(&mut tx, query, order_id, types::ORDER_UPDATED, source).await?;
        if matches!(change, PaymentChange::Failed { .. })
            && matches!(outcome, Transition::Applied(_))
        {
            queue_release_in(&mut tx, order_id).await?;
        }
        tx.commit().await?;
        Ok(Some(outcome))
    }

    async fn queue_release(&self, order_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        queue_release_in(&mut tx, order_id).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn due_releases(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(DUE_RELEASES)
            .bind(now_ms())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn release_done(&self, order_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE release_tasks SET done_at = ? WHERE order_id = ?")
            .bind(now_ms())
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release_failed(&self, order_id: &str, retry_in: Duration) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE release_tasks SET attempts = attempts + 1, next_attempt_at = ? \
             WHERE order_id = ?",
        )
        .bind(now_ms() + retry_in.as_millis() as i64)
        .bind(order_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqlxOutbox::new(self.pool.clone()))
    }
}
