//! The MongoDB payment store. Without transactions, what SQLite does in one transaction is done so:
//! - each state change is ONE conditional `find_one_and_update` of the payment document, the
//!   precondition in the filter (`{_id, status: "processing"}`);
//! - the event announcing a change goes through the shared outbox protocol
//!   (`shared::mongo::outbox`): written held before the change, which records its id in the
//!   payment's `event_ids`, then released (or deleted when the change did not apply). The relay
//!   thus never writes payment documents;
//! - applying an incoming event is a sequence of idempotent steps, the processed-id record LAST:
//!   a crash in between makes the redelivered event repeat steps that change nothing twice
//!   (the order's unique payment, `$set`s of flags), instead of losing the event;
//! - a cancellation racing the order's creation is caught from both sides: the cancellation is
//!   recorded before the payment is looked up, and the creation looks for it after inserting.
//!
//! Two deliveries of one event at the same moment may both report it as applied (the processed
//! check is a read); every step they repeat is conditional, so the outcome is the same.
//! Documents keep the SQLite shapes and names (snake_case): `_id` = the app's 24-hex id, money
//! in i64 cents, times in i64 UTC ms.

mod docs;
mod incoming;

use super::shapes::StoredPayment;
use super::{Outcome, PaymentStore};
use crate::domain::Payment;
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use shared::events::{EventEnvelope, OutboxStore};
use shared::mongo::insert_new;
use shared::mongo::{outbox, Indexes, MongoOptions, MongoOutbox};
use shared::store::{now_ms, StoreError};
use std::sync::Arc;

/// The default database when the URL names none.
pub const DEFAULT_DB: &str = "ecommerce_payments";

/// Payments in a MongoDB database.
#[derive(Clone)]
pub struct MongoPaymentStore {
    db: Database,
    payments: Collection<StoredPayment>,
    processed: Collection<Document>,
    cancelled: Collection<Document>,
    outbox: MongoOutbox,
    /// Ensured once; a database down at startup gets them on first use.
    indexes: Arc<Indexes>,
}

impl MongoPaymentStore {
    /// Connects (lazily) and creates the indexes; an unreachable server is not an error here, so
    /// the service starts, answers `/ready` with 503 and creates the indexes once it can.
    pub async fn connect(url: &str, opts: MongoOptions) -> Result<Self, StoreError> {
        let db = shared::mongo::connect(url, DEFAULT_DB, crate::SERVICE, opts).await?;
        let store = Self {
            payments: db.collection(docs::PAYMENTS),
            processed: db.collection(docs::PROCESSED_EVENTS),
            cancelled: db.collection(docs::CANCELLED_ORDERS),
            outbox: MongoOutbox::new(&db, docs::PAYMENTS, &[]),
            indexes: Arc::new(Indexes::new(&db, docs::indexes()).with_upgrades(docs::upgrades())),
            db,
        };
        store.indexes.at_startup().await?;
        Ok(store)
    }

    /// Makes sure the indexes exist (the unique order index must, before any insert).
    async fn indexed(&self) -> Result<(), StoreError> {
        self.indexes.ensure().await
    }

    /// One conditional update of one payment: `update` applies only if `filter` matches; the
    /// payment after it, or `None`.
    async fn transition(
        &self,
        filter: Document,
        update: Document,
    ) -> Result<Option<Payment>, StoreError> {
        self.indexed().await?;
        let d = self
            .payments
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await?;
        Ok(d.map(Payment::from))
    }

    /// Like [`Self::transition`], writing `event` to the outbox when it applies (the shared
    /// protocol: held, the transition records its id, released or deleted).
    async fn transition_with_event(
        &self,
        filter: Document,
        mut update: Document,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        self.indexed().await?;
        let payment_id = filter.get_str("_id").map_err(|e| {
            StoreError::Other(format!(
                "a transition with an event needs the payment id: {e}"
            ))
        })?;
        let mut push = doc! {};
        outbox::record(&mut push, event);
        update.insert("$push", push);
        self.outbox
            .commit(
                payment_id,
                event,
                Vec::new(),
                self.transition(filter.clone(), update),
            )
            .await
    }

    async fn find_many(
        &self,
        filter: Document,
        limit: Option<i64>,
    ) -> Result<Vec<Payment>, StoreError> {
        self.indexed().await?;
        let mut find = self
            .payments
            .find(filter)
            .sort(doc! {"created_at": 1, "_id": 1});
        if let Some(limit) = limit {
            find = find.limit(limit);
        }
        let docs: Vec<StoredPayment> = find.await?.try_collect().await?;
        Ok(docs.into_iter().map(Payment::from).collect())
    }
}

#[async_trait]
impl PaymentStore for MongoPaymentStore {
    async fn insert(&self, payment: &Payment) -> Result<(), StoreError> {
        self.indexed().await?;
        self.payments
            .insert_one(StoredPayment::from(payment))
            .await?;
        Ok(())
    }

    async fn record_order_created(
        &self,
        event_id: &str,
        payment: &Payment,
    ) -> Result<bool, StoreError> {
        self.order_created(event_id, payment).await
    }

    async fn record_order_cancelled(
        &self,
        event_id: &str,
        order_id: &str,
    ) -> Result<Option<Payment>, StoreError> {
        self.order_cancelled(event_id, order_id).await
    }

    async fn mark_event_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        insert_new(
            &self.processed,
            &doc! {"_id": event_id, "processed_at": now_ms()},
        )
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        let found = self.payments.find_one(doc! {"_id": id}).await?;
        Ok(found.map(Payment::from))
    }

    async fn get_by_order(&self, order_id: &str) -> Result<Option<Payment>, StoreError> {
        let found = self.payments.find_one(doc! {"order_id": order_id}).await?;
        Ok(found.map(Payment::from))
    }

    async fn claim_pending(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        self.transition(
            doc! {"_id": id, "status": "pending"},
            doc! {"$set": {"status": "processing", "updated_at": now_ms()}},
        )
        .await
    }

    async fn claim_failed(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        self.transition(
            doc! {"_id": id, "status": "failed", "refund_requested": false},
            doc! {
                "$set": {"status": "processing", "failure_reason": null, "updated_at": now_ms()},
                "$inc": {"attempt": 1_i64},
            },
        )
        .await
    }

    async fn settle(
        &self,
        id: &str,
        outcome: Outcome<'_>,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        let now = now_ms();
        let (from, set) = match outcome {
            Outcome::Charged { transaction_id } => (
                "processing",
                doc! {"status": "completed", "transaction_id": transaction_id, "updated_at": now},
            ),
            Outcome::Failed { reason } => (
                "processing",
                doc! {"status": "failed", "failure_reason": reason, "updated_at": now},
            ),
            Outcome::Refunded { refund_cents } => (
                "refunding",
                doc! {
                    "status": "refunded",
                    "refund_cents": refund_cents,
                    "refunded_at": now,
                    "updated_at": now,
                },
            ),
        };
        self.transition_with_event(doc! {"_id": id, "status": from}, doc! {"$set": set}, event)
            .await
    }

    async fn begin_refund(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        self.transition(
            doc! {"_id": id, "status": "completed"},
            doc! {"$set": {"status": "refunding", "updated_at": now_ms()}},
        )
        .await
    }

    async fn abort_refund(&self, id: &str) -> Result<(), StoreError> {
        self.transition(
            doc! {"_id": id, "status": "refunding"},
            doc! {"$set": {"status": "completed", "updated_at": now_ms()}},
        )
        .await
        .map(|_| ())
    }

    async fn due_work(&self, limit: u32, stale_before: i64) -> Result<Vec<Payment>, StoreError> {
        let filter = doc! {"$or": [
            {"status": "pending"},
            {"status": "completed", "refund_requested": true},
            {"status": {"$in": ["processing", "refunding"]}, "updated_at": {"$lt": stale_before}},
        ]};
        self.find_many(filter, Some(i64::from(limit))).await
    }

    async fn claim_stale(
        &self,
        id: &str,
        stale_before: i64,
    ) -> Result<Option<Payment>, StoreError> {
        self.transition(
            doc! {
                "_id": id,
                "status": {"$in": ["processing", "refunding"]},
                "updated_at": {"$lt": stale_before},
            },
            doc! {"$set": {"updated_at": now_ms()}},
        )
        .await
    }

    async fn give_back(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.indexed().await?;
        let now = now_ms();
        self.payments
            .update_many(
                doc! {"_id": {"$in": ids}, "status": "processing"},
                doc! {"$set": {"status": "pending", "updated_at": now}},
            )
            .await?;
        self.payments
            .update_many(
                doc! {"_id": {"$in": ids}, "status": "refunding"},
                doc! {"$set": {"status": "completed", "refund_requested": true, "updated_at": now}},
            )
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        shared::mongo::ping(&self.db).await?;
        self.indexed().await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(self.outbox.clone())
    }
}
