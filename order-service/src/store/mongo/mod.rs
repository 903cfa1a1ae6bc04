//! The MongoDB order store. Without transactions, everything a change must commit together lives in
//! the order document: the change, its events (`outbox` array) and the stock release request
//! (`releasePending`), plus the ids of payment events already applied (`processedEvents`). Each
//! change is ONE conditional `update_one` guarded by the document's `rev` (compare-and-set: the
//! order is read to decide the transition and to build the event from the state after it; the update
//! applies only if no other change came in between, else it is decided again). Afterwards the
//! embedded events/release are flushed idempotently (event id / order id as `_id`) into the `outbox`
//! and `release_tasks` collections; a document left `dirty` by a crash is flushed by the sweep the
//! relay and release worker run before reading their queues.

mod docs;
mod outbox;

use super::{IdempotencyKey, OrderFilter, OrderStore};
use crate::domain::{Order, OrderStatus, PaymentChange, PaymentStatus, Transition};
use crate::state::SERVICE;
use async_trait::async_trait;
use docs::{idem_key, mutable_fields, Embedded, OrderDoc, ORDERS, PROCESSED, RELEASES};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use shared::events::{types, EventEnvelope, OutboxStore};
use shared::mongo::{is_duplicate_key, MongoOptions};
use shared::store::{now_ms, PageRequest, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

pub use outbox::MongoOutbox;

/// Database used when the URL names none.
pub const DEFAULT_DB: &str = "ecommerce_orders";

/// Compare-and-set attempts before giving up (each lost attempt means another change succeeded).
const MAX_ATTEMPTS: usize = 64;

/// Orders in a MongoDB database.
pub struct MongoOrderStore {
    db: Database,
    indexes: OnceCell<()>,
    outbox: Arc<MongoOutbox>,
}

/// What a change does to an order as read.
enum Decision {
    /// The order after the change, the event to emit, and whether its stock is to be released.
    Apply(Order, EventEnvelope, bool),
    /// The change is not allowed in the order's state.
    Refuse,
    /// The order is not visible to the caller.
    Hide,
}

impl MongoOrderStore {
    /// Connects to `url` (default database `ecommerce_orders`) and creates the indexes. An
    /// unreachable server is not fatal: the service starts, answers 503, and the indexes are
    /// created by the first write that reaches the server.
    pub async fn connect(url: &str, opts: MongoOptions) -> Result<Self, StoreError> {
        let db = shared::mongo::connect(url, DEFAULT_DB, SERVICE, opts).await?;
        let store = Self {
            outbox: Arc::new(MongoOutbox::new(db.clone())),
            db,
            indexes: OnceCell::new(),
        };
        match store.ensure_indexes().await {
            Err(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "MongoDB unreachable at startup; indexes created later");
            }
            other => other?,
        }
        Ok(store)
    }

    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        self.indexes
            .get_or_try_init(|| create_indexes(&self.db))
            .await
            .map(|_| ())
    }

    fn orders(&self) -> Collection<Document> {
        self.db.collection(ORDERS)
    }

    async fn read(&self, filter: Document) -> Result<Option<OrderDoc>, StoreError> {
        self.orders()
            .find_one(filter)
            .await?
            .map(OrderDoc::decode)
            .transpose()
    }

    /// Decides and applies a change with compare-and-set on `rev`. `event_id` (a payment event) is
    /// recorded with the outcome, and an order that already recorded it yields `Ok(None)`.
    async fn change<F>(
        &self,
        id: &str,
        event_id: Option<&str>,
        decide: F,
    ) -> Result<Option<Transition>, StoreError>
    where
        F: Fn(&Order) -> Decision + Send + Sync,
    {
        for _ in 0..MAX_ATTEMPTS {
            let Some(current) = self.read(doc! {"_id": id}).await? else {
                return Ok(Some(Transition::NotFound));
            };
            if event_id.is_some_and(|e| current.processed_events.iter().any(|p| p == e)) {
                return Ok(None);
            }
            let order = current.order()?;
            let (set, push, outcome) = match decide(&order) {
                Decision::Hide => return Ok(Some(Transition::NotFound)),
                Decision::Refuse if event_id.is_none() => {
                    return Ok(Some(Transition::Refused(order)))
                }
                Decision::Refuse => (doc! {}, doc! {}, Transition::Refused(order)),
                Decision::Apply(next, event, release) => {
                    let mut set = mutable_fields(&next);
                    set.insert("dirty", true);
                    if release {
                        set.insert("releasePending", true);
                    }
                    let embedded = mongodb::bson::to_bson(&Embedded::new(&event, now_ms())?)?;
                    (set, doc! {"outbox": embedded}, Transition::Applied(next))
                }
            };
            let mut push = push;
            if let Some(e) = event_id {
                push.insert("processedEvents", e);
            }
            let mut update = doc! {"$inc": {"rev": 1_i64}};
            if !set.is_empty() {
                update.insert("$set", set);
            }
            if !push.is_empty() {
                update.insert("$push", push);
            }
            let guard = doc! {"_id": id, "rev": current.rev};
            let after = self
                .orders()
                .find_one_and_update(guard, update)
                .return_document(mongodb::options::ReturnDocument::After)
                .await?;
            let Some(after) = after else { continue };
            if matches!(outcome, Transition::Applied(_)) {
                // The change is committed with its events; a failed flush is redone by the sweep.
                if let Err(e) = outbox::flush(&self.db, &OrderDoc::decode(after)?).await {
                    tracing::warn!(error = %e, order_id = id, "outbox flush deferred to the sweep");
                }
            }
            return Ok(Some(outcome));
        }
        Err(StoreError::Other(format!(
            "order {id} changed {MAX_ATTEMPTS} times while being updated"
        )))
    }
}

async fn create_indexes(db: &Database) -> Result<(), StoreError> {
    let index = |keys: Document, unique: bool| {
        IndexModel::builder()
            .keys(keys)
            .options(IndexOptions::builder().unique(unique).build())
            .build()
    };
    let orders = db.collection::<Document>(ORDERS);
    orders.create_index(index(doc! {"idem": 1}, true)).await?;
    orders
        .create_index(index(doc! {"userId": 1, "createdAt": -1}, false))
        .await?;
    orders
        .create_index(index(doc! {"status": 1, "createdAt": -1}, false))
        .await?;
    orders.create_index(index(doc! {"dirty": 1}, false)).await?;
    db.collection::<Document>(docs::OUTBOX)
        .create_index(index(doc! {"delivered": 1, "nextAttemptAt": 1}, false))
        .await?;
    db.collection::<Document>(RELEASES)
        .create_index(index(doc! {"done": 1, "nextAttemptAt": 1}, false))
        .await?;
    Ok(())
}

fn event(order: &Order, event_type: &str, source: &str) -> EventEnvelope {
    let data = if event_type == types::ORDER_CANCELLED {
        order.cancelled_event()
    } else {
        order.updated_event()
    };
    EventEnvelope::new(event_type, data, source)
}

/// The order after payment `change`, if its state allows the change (the SQLite store's rules).
fn after_payment(order: &Order, change: &PaymentChange) -> Option<(Order, bool)> {
    use OrderStatus as S;
    use PaymentStatus as P;
    let mut next = order.clone();
    next.updated_at = now_ms();
    match change {
        // A payment that lands after the order was cancelled is still recorded, so that the
        // refund that follows the cancellation can be shown.
        PaymentChange::Processed { payment_id } => {
            if !matches!(order.payment_status, P::Pending | P::Processing)
                || !matches!(order.status, S::Pending | S::Cancelled)
            {
                return None;
            }
            if order.status == S::Pending {
                next.status = S::Confirmed;
            }
            next.payment_status = P::Completed;
            next.payment_id = Some(payment_id.clone());
            Some((next, false))
        }
        PaymentChange::Failed { reason } => {
            if order.status != S::Pending {
                return None;
            }
            next.status = S::Failed;
            next.payment_status = P::Failed;
            next.notes = Some(reason.clone());
            Some((next, true))
        }
        PaymentChange::Refunded => {
            if order.payment_status == P::Refunded {
                return None;
            }
            next.payment_status = P::Refunded;
            Some((next, false))
        }
    }
}

fn status_filter(filter: &OrderFilter) -> Document {
    let mut f = doc! {};
    if let Some(user) = &filter.user_id {
        f.insert("userId", user);
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
        let d = OrderDoc::new(order, key, Embedded::new(event, now_ms())?)?;
        self.orders().insert_one(d.clone()).await?;
        if let Err(e) = outbox::flush(&self.db, &OrderDoc::decode(d)?).await {
            tracing::warn!(error = %e, order_id = order.id, "outbox flush deferred to the sweep");
        }
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
        Ok(Some((d.order()?, fingerprint)))
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.read(doc! {"_id": id})
            .await?
            .map(|d| d.order())
            .transpose()
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        page: PageRequest,
    ) -> Result<(Vec<Order>, u64), StoreError> {
        let f = status_filter(filter);
        let total = self.orders().count_documents(f.clone()).await?;
        let docs: Vec<Document> = self
            .orders()
            .find(f)
            .sort(doc! {"createdAt": -1, "_id": -1})
            .skip(page.offset())
            .limit(i64::try_from(page.limit).unwrap_or(i64::MAX))
            .await?
            .try_collect()
            .await?;
        let orders = docs
            .into_iter()
            .map(|d| OrderDoc::decode(d)?.order())
            .collect::<Result<_, _>>()?;
        Ok((orders, total))
    }

    async fn cancel(
        &self,
        id: &str,
        owner: Option<&str>,
        source: &str,
    ) -> Result<Transition, StoreError> {
        let outcome = self
            .change(id, None, |order| {
                if owner.is_some_and(|o| o != order.user_id) {
                    return Decision::Hide;
                }
                if !OrderStatus::CANCELLABLE.contains(&order.status) {
                    return Decision::Refuse;
                }
                let mut next = order.clone();
                next.status = OrderStatus::Cancelled;
                next.updated_at = now_ms();
                let e = event(&next, types::ORDER_CANCELLED, source);
                Decision::Apply(next, e, true)
            })
            .await?;
        Ok(outcome.unwrap_or(Transition::NotFound))
    }

    async fn advance(
        &self,
        id: &str,
        from: OrderStatus,
        to: OrderStatus,
        tracking_number: Option<&str>,
        source: &str,
    ) -> Result<Transition, StoreError> {
        let outcome = self
            .change(id, None, |order| {
                if order.status != from {
                    return Decision::Refuse;
                }
                let mut next = order.clone();
                next.status = to;
                if let Some(t) = tracking_number {
                    next.tracking_number = Some(t.to_string());
                }
                next.updated_at = now_ms();
                let e = event(&next, types::ORDER_UPDATED, source);
                Decision::Apply(next, e, false)
            })
            .await?;
        Ok(outcome.unwrap_or(Transition::NotFound))
    }

    async fn apply_payment(
        &self,
        event_id: &str,
        order_id: &str,
        change: &PaymentChange,
        source: &str,
    ) -> Result<Option<Transition>, StoreError> {
        let outcome = self
            .change(order_id, Some(event_id), |order| {
                match after_payment(order, change) {
                    Some((next, release)) => {
                        let e = event(&next, types::ORDER_UPDATED, source);
                        Decision::Apply(next, e, release)
                    }
                    None => Decision::Refuse,
                }
            })
            .await?;
        if outcome != Some(Transition::NotFound) {
            return Ok(outcome);
        }
        // No order to record the id in: record it on its own, as the SQLite store does.
        let seen = doc! {"_id": event_id, "processedAt": now_ms()};
        match self.db.collection::<Document>(PROCESSED).insert_one(seen).await {
            Ok(_) => Ok(Some(Transition::NotFound)),
            Err(e) if is_duplicate_key(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn queue_release(&self, order_id: &str) -> Result<(), StoreError> {
        outbox::queue_release(&self.db, order_id).await
    }

    async fn due_releases(&self, limit: u32) -> Result<Vec<String>, StoreError> {
        outbox::recover(&self.db).await?;
        let rows: Vec<Document> = self
            .db
            .collection::<Document>(RELEASES)
            .find(doc! {"done": false, "nextAttemptAt": {"$lte": now_ms()}})
            .sort(doc! {"nextAttemptAt": 1, "_id": 1})
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|d| match d.get("_id") {
                Some(Bson::String(id)) => Some(id.clone()),
                _ => None,
            })
            .collect())
    }

    async fn release_done(&self, order_id: &str) -> Result<(), StoreError> {
        self.db
            .collection::<Document>(RELEASES)
            .update_one(
                doc! {"_id": order_id},
                doc! {"$set": {"done": true, "doneAt": now_ms()}},
            )
            .await?;
        Ok(())
    }

    async fn release_failed(&self, order_id: &str, retry_in: Duration) -> Result<(), StoreError> {
        let next = now_ms() + retry_in.as_millis() as i64;
        self.db
            .collection::<Document>(RELEASES)
            .update_one(
                doc! {"_id": order_id},
                doc! {"$inc": {"attempts": 1_i64}, "$set": {"nextAttemptAt": next}},
            )
            .await?;
        Ok(())
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        self.outbox.clone()
    }
}
