//! The SQLite order store: orders, outbox, processed event ids and queued stock releases in one
//! database, so each change and its events commit together.

#[cfg(test)]
mod plans;
mod rows;

use super::shapes::{stored_items, StoredAddress, StoredOrder};
use super::{Announce, Cancellation, IdempotencyKey, OrderFilter, OrderStore, Step};
use crate::domain::{Order, PaymentChange, PaymentEvent, Transition};
use async_trait::async_trait;
use rows::{conditional, get_in, queue_release_in, upgrade, COLS, SCHEMA};
use rusqlite::params;
use shared::events::{
    outbox_insert, EventEnvelope, OutboxStore, SqliteOutbox, SQLITE_OUTBOX_SCHEMA,
};
use shared::sqlite::{decode, first_with, mark_processed, Database, Query};
use shared::store::{now_ms, PageRequest, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Orders in a SQLite database.
#[derive(Clone)]
pub struct SqliteOrderStore {
    db: Database,
}

impl SqliteOrderStore {
    /// Opens `url` and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = Database::open(url).await?;
        db.write(|tx| Ok(tx.execute_batch(SCHEMA)?)).await?;
        db.write(|tx| upgrade(tx)).await?;
        db.write(|tx| Ok(tx.execute_batch(SQLITE_OUTBOX_SCHEMA)?))
            .await?;
        Ok(Self { db })
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
fn push_filter(q: &mut Query, filter: &OrderFilter) {
    let mut glue = " WHERE ";
    if let Some(user_id) = &filter.user_id {
        q.push(glue).push("user_id = ").bind(user_id.clone());
        glue = " AND ";
    }
    if let Some(status) = filter.status {
        q.push(glue)
            .push("status = ")
            .bind(status.as_str().to_owned());
    }
}

/// The total and the page of a list.
fn list_queries(filter: &OrderFilter, page: PageRequest) -> (Query, Query) {
    let mut count = Query::new("SELECT COUNT(*) FROM orders");
    push_filter(&mut count, filter);
    let mut rows = Query::new(format!("SELECT {COLS} FROM orders"));
    push_filter(&mut rows, filter);
    rows.push(" ORDER BY created_at DESC, id DESC").page(page);
    (count, rows)
}

#[async_trait]
impl OrderStore for SqliteOrderStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    async fn create(
        &self,
        order: &Order,
        key: Option<&IdempotencyKey>,
        event: &EventEnvelope,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO orders ({COLS}, idempotency_key, fingerprint) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let items = serde_json::to_string(&stored_items(&order.items))?;
        let address = serde_json::to_string(&StoredAddress::from(&order.shipping_address))?;
        let (order, key, event) = (order.clone(), key.cloned(), event.clone());
        self.db
            .write(move |tx| {
                tx.prepare_cached(&sql)?.execute(params![
                    order.id,
                    order.user_id,
                    items,
                    order.total_cents,
                    order.status.as_str(),
                    order.payment_status.as_str(),
                    order.payment_id,
                    address,
                    order.tracking_number,
                    order.notes,
                    order.created_at,
                    order.updated_at,
                    key.as_ref().map(|k| &k.key),
                    key.as_ref().map(|k| &k.fingerprint),
                ])?;
                outbox_insert(tx, &event)
            })
            .await
    }

    async fn find_by_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<(Order, String)>, StoreError> {
        self.db
            .read(|conn| {
                first_with(conn, &find_by_key_sql(), params![user_id, key], |row| {
                    let stored: StoredOrder = decode(row)?;
                    let fingerprint = stored.fingerprint.clone().unwrap_or_default();
                    Ok((Order::try_from(stored)?, fingerprint))
                })
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.db.read(|conn| get_in(conn, id)).await
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<Order>, u64), StoreError> {
        let (count, rows) = list_queries(filter, page);
        self.db
            .read(|conn| shared::sqlite::page(conn, &count, &rows))
            .await
    }

    async fn cancel(
        &self,
        cancel: Cancellation<'_>,
        announce: Announce,
    ) -> Result<Transition, StoreError> {
        let Cancellation { id, owner, from } = cancel;
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
        let (id, owner) = (id.to_owned(), owner.map(str::to_owned));
        self.db
            .write(move |tx| {
                let query = params![now_ms(), id, owner];
                let outcome = conditional(tx, &sql, query, &id, announce)?;
                Ok(match outcome {
                    Transition::Applied(order) => {
                        queue_release_in(tx, &id)?;
                        Transition::Applied(order)
                    }
                    Transition::Refused(order)
                        if owner.as_ref().is_some_and(|o| *o != order.user_id) =>
                    {
                        Transition::NotFound
                    }
                    other => other,
                })
            })
            .await
    }

    async fn advance(&self, step: Step<'_>, announce: Announce) -> Result<Transition, StoreError> {
        let Step {
            id,
            from,
            to,
            tracking_number,
        } = step;
        let sql = format!(
            "UPDATE orders SET status = ?1, tracking_number = COALESCE(?2, tracking_number), \
             updated_at = ?3 WHERE id = ?4 AND status = ?5 AND payment_status = 'completed' \
             RETURNING {COLS}"
        );
        let (id, tracking_number) = (id.to_owned(), tracking_number.map(str::to_owned));
        self.db
            .write(move |tx| {
                let query = params![to.as_str(), tracking_number, now_ms(), id, from.as_str()];
                conditional(tx, &sql, query, &id, announce)
            })
            .await
    }

    async fn apply_payment(
        &self,
        event: &PaymentEvent,
        announce: Announce,
    ) -> Result<Option<Transition>, StoreError> {
        let (event_id, order_id, change) = (&event.id, &event.order_id, &event.change);
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
        let failed = matches!(change, PaymentChange::Failed { .. });
        let (event_id, order_id) = (event_id.to_owned(), order_id.to_owned());
        self.db
            .write(move |tx| {
                if !mark_processed(tx, &event_id)? {
                    return Ok(None);
                }
                let query = params![value, now_ms(), order_id];
                let outcome = conditional(tx, &sql, query, &order_id, announce)?;
                if failed && matches!(outcome, Transition::Applied(_)) {
                    queue_release_in(tx, &order_id)?;
                }
                Ok(Some(outcome))
            })
            .await
    }

    async fn queue_release(&self, order_id: &str) -> Result<(), StoreError> {
        let order_id = order_id.to_owned();
        self.db
            .write(move |tx| queue_release_in(tx, &order_id))
            .await
    }

    async fn claim_releases(&self, limit: u32, lease: Duration) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        let until = now.saturating_add(shared::store::millis(lease));
        self.db
            .write(move |tx| {
                // One write transaction: no other writer runs between the read and the lease.
                let ids: Vec<String> = tx
                    .prepare_cached(DUE_RELEASES)?
                    .query_map(params![now, limit], |row| row.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut lease = tx.prepare_cached(
                    "UPDATE release_tasks SET next_attempt_at = ? WHERE order_id = ?",
                )?;
                for id in &ids {
                    lease.execute(params![until, id])?;
                }
                Ok(ids)
            })
            .await
    }

    async fn release_done(&self, order_id: &str) -> Result<(), StoreError> {
        let order_id = order_id.to_owned();
        self.db
            .write(move |tx| {
                tx.prepare_cached("UPDATE release_tasks SET done_at = ? WHERE order_id = ?")?
                    .execute(params![now_ms(), order_id])?;
                Ok(())
            })
            .await
    }

    async fn release_failed(&self, order_id: &str, retry_in: Duration) -> Result<(), StoreError> {
        let order_id = order_id.to_owned();
        let next = now_ms() + retry_in.as_millis() as i64;
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "UPDATE release_tasks SET attempts = attempts + 1, next_attempt_at = ? \
                     WHERE order_id = ?",
                )?
                .execute(params![next, order_id])?;
                Ok(())
            })
            .await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(SqliteOutbox::new(self.db.clone()))
    }
}

#[cfg(test)]
mod tests;
