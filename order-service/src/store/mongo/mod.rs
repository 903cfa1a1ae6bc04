//! The MongoDB order store. Without transactions, each change is ONE conditional `update_one` of
//! the order document guarded by its `rev` (compare-and-set: the order is read to decide the
//! transition and to build the event from the state after it; the update applies only if no other
//! change came in between, else it is decided again). Its event and stock release go through the
//! shared outbox protocol (`shared::mongo::outbox`): written held before the update, which records
//! the change id in `event_ids`, released after it. The ids of payment events applied are recorded
//! in the same update (`processed_events`).

mod change;
mod docs;
mod releases;
mod upgrade;

use super::shapes::{idem_key, StoredOrder};
use super::{Announce, Cancellation, IdempotencyKey, OrderFilter, OrderStore, Step};
use crate::domain::{Order, OrderStatus, PaymentEvent, PaymentStatus, Transition};
use crate::SERVICE;
use async_trait::async_trait;
use change::{after_payment, Decision};
use docs::{ORDERS, PROCESSED, RELEASES};
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};
use shared::events::{EventEnvelope, OutboxStore};
use shared::mongo::{insert_new, Indexes, MongoOptions, MongoOutbox};
use shared::store::{now_ms, PageRequest, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Database used when the URL names none.
pub const DEFAULT_DB: &str = "ecommerce_orders";

/// Orders in a MongoDB database.
pub struct MongoOrderStore {
    db: Database,
    indexes: Indexes,
    outbox: MongoOutbox,
}

impl MongoOrderStore {
    /// Connects to `url` (default database `ecommerce_orders`) and creates the indexes. An
    /// unreachable server is not fatal: the service starts, answers 503, and the indexes are
    /// created by the first write that reaches the server.
    pub async fn connect(url: &str, opts: MongoOptions) -> Result<Self, StoreError> {
        let db = shared::mongo::connect(url, DEFAULT_DB, SERVICE, opts).await?;
        let store = Self {
            outbox: MongoOutbox::new(&db, ORDERS, &[RELEASES]),
            indexes: Indexes::new(&db, docs::indexes()).with_upgrades(upgrade::upgrades()),
            db,
        };
        store.indexes.at_startup().await?;
        Ok(store)
    }

    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        self.indexes.ensure().await
    }

    fn orders(&self) -> Collection<Document> {
        self.db.collection(ORDERS)
    }

    async fn read(&self, filter: Document) -> Result<Option<StoredOrder>, StoreError> {
        self.ensure_indexes().await?;
        self.orders()
            .find_one(filter)
            .await?
            .map(|d| Ok(mongodb::bson::from_document(d)?))
            .transpose()
    }
}

fn status_filter(filter: &OrderFilter) -> Document {
    let mut f = doc! {};
    if let Some(user) = &filter.user_id {
        f.insert("user_id", user);
    }
    if let Some(status) = filter.status {
        f.insert("status", status.as_str());
    }
    f
}

#[async_trait]
impl OrderStore for MongoOrderStore {
    async fn ping(&self) -> Result<(), StoreError> {
        shared::mongo::ping(&self.db).await
    }

    async fn create(
        &self,
        order: &Order,
        key: Option<&IdempotencyKey>,
        event: &EventEnvelope,
    ) -> Result<(), StoreError> {
        self.ensure_indexes().await?;
        let key = key.map(|k| (k.key.as_str(), k.fingerprint.as_str()));
        let d = mongodb::bson::to_document(&StoredOrder::new(order, key, &event.id))?;
        let insert = async { Ok(Some(self.orders().insert_one(d).await?)) };
        self.outbox
            .commit(&order.id, event, Vec::new(), insert)
            .await?;
        Ok(())
    }

    async fn find_by_key(
        &self,
        user_id: &str,
        key: &str,
    ) -> Result<Option<(Order, String)>, StoreError> {
        let Some(d) = self.read(doc! {"idem": idem_key(user_id, key)}).await? else {
            return Ok(None);
        };
        let fingerprint = d.fingerprint.clone().unwrap_or_default();
        Ok(Some((Order::try_from(d)?, fingerprint)))
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.read(doc! {"_id": id})
            .await?
            .map(Order::try_from)
            .transpose()
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<Order>, u64), StoreError> {
        self.ensure_indexes().await?;
        let orders = self.db.collection::<StoredOrder>(ORDERS);
        let newest_first = doc! {"created_at": -1, "_id": -1};
        shared::mongo::page(&orders, status_filter(filter), newest_first, page).await
    }

    async fn cancel(
        &self,
        cancel: Cancellation<'_>,
        announce: Announce,
    ) -> Result<Transition, StoreError> {
        let Cancellation { id, owner, from } = cancel;
        let outcome = self
            .change(id, None, announce, |order| {
                if owner.is_some_and(|o| o != order.user_id) {
                    return Decision::Hide;
                }
                if !from.contains(&order.status) {
                    return Decision::Refuse;
                }
                let mut next = order.clone();
                next.status = OrderStatus::Cancelled;
                next.updated_at = now_ms();
                Decision::Apply(Box::new(next), true)
            })
            .await?;
        Ok(outcome.unwrap_or(Transition::NotFound))
    }

    async fn advance(&self, step: Step<'_>, announce: Announce) -> Result<Transition, StoreError> {
        let outcome = self
            .change(step.id, None, announce, |order| {
                if order.status != step.from || order.payment_status != PaymentStatus::Completed {
                    return Decision::Refuse;
                }
                let mut next = order.clone();
                next.status = step.to;
                if let Some(t) = step.tracking_number {
                    next.tracking_number = Some(t.to_string());
                }
                next.updated_at = now_ms();
                Decision::Apply(Box::new(next), false)
            })
            .await?;
        Ok(outcome.unwrap_or(Transition::NotFound))
    }

    async fn apply_payment(
        &self,
        event: &PaymentEvent,
        announce: Announce,
    ) -> Result<Option<Transition>, StoreError> {
        let (event_id, order_id, change) = (&event.id, &event.order_id, &event.change);
        let outcome = self
            .change(
                order_id,
                Some(event_id),
                announce,
                |order| match after_payment(order, change) {
                    Some((next, release)) => Decision::Apply(Box::new(next), release),
                    None => Decision::Refuse,
                },
            )
            .await?;
        if outcome != Some(Transition::NotFound) {
            return Ok(outcome);
        }
        // No order to record the id in: record it on its own, as the SQLite store does.
        let seen = doc! {"_id": event_id, "processed_at": now_ms()};
        let processed = self.db.collection::<Document>(PROCESSED);
        let first = insert_new(&processed, &seen).await?;
        Ok(first.then_some(Transition::NotFound))
    }

    async fn queue_release(&self, order_id: &str) -> Result<(), StoreError> {
        self.ensure_indexes().await?;
        releases::queue(&self.db, order_id).await
    }

    async fn claim_releases(&self, limit: u32, lease: Duration) -> Result<Vec<String>, StoreError> {
        self.ensure_indexes().await?;
        self.outbox.settle().await?;
        releases::claim(&self.db, limit, lease).await
    }

    async fn release_done(&self, order_id: &str) -> Result<(), StoreError> {
        releases::done(&self.db, order_id).await
    }

    async fn release_failed(&self, order_id: &str, retry_in: Duration) -> Result<(), StoreError> {
        releases::failed(&self.db, order_id, retry_in).await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(self.outbox.clone())
    }
}
