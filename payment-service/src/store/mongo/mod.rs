//! The MongoDB payment store. Without transactions, what SQLite does in one transaction is done so:
//! - each state change is ONE conditional `find_one_and_update` of the payment document, the
//!   precondition in the filter (`{_id, status: "processing"}`);
//! - the event announcing a change is written to the `outbox` collection `held` BEFORE the change,
//!   the change `$push`es the event id into the payment's `eventIds`, and the event is then
//!   released (or deleted when the change did not apply). A crash in between leaves a hold that
//!   the relay settles once it is old, by whether the payment records that id. The relay thus
//!   never writes payment documents (events are not embedded there): FerretDB rewrites whole
//!   documents without isolation, so a relay `$pull` could undo a concurrent state change;
//! - applying an incoming event is a sequence of idempotent steps, the processed-id record LAST:
//!   a crash in between makes the redelivered event repeat steps that change nothing twice
//!   (the order's unique payment, `$set`s of flags), instead of losing the event;
//! - a cancellation racing the order's creation is caught from both sides: the cancellation is
//!   recorded before the payment is looked up, and the creation looks for it after inserting.
//!
//! Two deliveries of one event at the same moment may both report it as applied (the processed
//! check is a read); every step they repeat is conditional, so the outcome is the same.
//! Documents keep the SQLite shapes: `_id` = the app's 24-hex id, money in i64 cents, times in
//! i64 UTC ms.

mod docs;
mod incoming;
mod outbox;

use super::PaymentStore;
use crate::domain::Payment;
use async_trait::async_trait;
use docs::{insert_new, to_payment, PaymentDoc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
pub use outbox::MongoOutbox;
use shared::events::{EventEnvelope, OutboxStore};
use shared::mongo::{Indexes, MongoOptions};
use shared::store::{now_ms, StoreError};
use std::sync::Arc;

/// The default database when the URL names none.
pub const DEFAULT_DB: &str = "ecommerce_payments";

/// Payments in a MongoDB database.
#[derive(Clone)]
pub struct MongoPaymentStore {
    db: Database,
    payments: Collection<PaymentDoc>,
    processed: Collection<Document>,
    cancelled: Collection<Document>,
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
            indexes: Arc::new(Indexes::new(&db, docs::indexes())),
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
        to_payment(d)
    }

    /// Like [`Self::transition`], writing `event` to the outbox when it applies: held first,
    /// then the transition records the event id in the payment, then the event is released (or
    /// discarded when the transition did not apply). A crash in between leaves a hold that the
    /// relay settles by that event id.
    async fn transition_with_event(
        &self,
        filter: Document,
        mut update: Document,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        self.indexed().await?;
        let outbox = MongoOutbox::new(&self.db);
        let payment_id = filter.get_str("_id").map_err(|e| {
            StoreError::Other(format!(
                "a transition with an event needs the payment id: {e}"
            ))
        })?;
        outbox.hold(payment_id, event).await?;
        update.insert("$push", doc! {"eventIds": &event.id});
        // On an error it is unknown whether the change applied: the hold is settled later.
        let payment = self.transition(filter, update).await?;
        let settled = match &payment {
            Some(_) => outbox.release(&event.id).await,
            None => outbox.discard(&event.id).await,
        };
        if let Err(e) = settled {
            // The state change stands; the relay settles the hold after `HOLD_TIMEOUT`.
            tracing::warn!(event_id = %event.id, error = %e, "outbox hold left for the relay");
        }
        Ok(payment)
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
            .sort(doc! {"createdAt": 1, "_id": 1});
        if let Some(limit) = limit {
            find = find.limit(limit);
        }
        let docs: Vec<PaymentDoc> = find.await?.try_collect().await?;
        docs.into_iter().map(Payment::try_from).collect()
    }
}

#[async_trait]
impl PaymentStore for MongoPaymentStore {
    async fn insert(&self, payment: &Payment) -> Result<(), StoreError> {
        self.indexed().await?;
        self.payments.insert_one(PaymentDoc::from(payment)).await?;
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
            &doc! {"_id": event_id, "processedAt": now_ms()},
        )
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        to_payment(self.payments.find_one(doc! {"_id": id}).await?)
    }

    async fn get_by_order(&self, order_id: &str) -> Result<Option<Payment>, StoreError> {
        to_payment(self.payments.find_one(doc! {"orderId": order_id}).await?)
    }

    async fn claim_pending(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        self.transition(
            doc! {"_id": id, "status": "pending"},
            doc! {"$set": {"status": "processing", "updatedAt": now_ms()}},
        )
        .await
    }

    async fn claim_failed(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        self.transition(
            doc! {"_id": id, "status": "failed", "refundRequested": false},
            doc! {
                "$set": {"status": "processing", "failureReason": null, "updatedAt": now_ms()},
                "$inc": {"attempt": 1_i64},
            },
        )
        .await
    }

    async fn complete(
        &self,
        id: &str,
        transaction_id: &str,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        self.transition_with_event(
            doc! {"_id": id, "status": "processing"},
            doc! {"$set": {
                "status": "completed",
                "transactionId": transaction_id,
                "updatedAt": now_ms(),
            }},
            event,
        )
        .await
    }

    async fn fail(
        &self,
        id: &str,
        reason: &str,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        self.transition_with_event(
            doc! {"_id": id, "status": "processing"},
            doc! {"$set": {"status": "failed", "failureReason": reason, "updatedAt": now_ms()}},
            event,
        )
        .await
    }

    async fn begin_refund(&self, id: &str) -> Result<Option<Payment>, StoreError> {
        self.transition(
            doc! {"_id": id, "status": "completed"},
            doc! {"$set": {"status": "refunding", "updatedAt": now_ms()}},
        )
        .await
    }

    async fn finish_refund(
        &self,
        id: &str,
        refund_cents: i64,
        event: &EventEnvelope,
    ) -> Result<Option<Payment>, StoreError> {
        let now = now_ms();
        self.transition_with_event(
            doc! {"_id": id, "status": "refunding"},
            doc! {"$set": {
                "status": "refunded",
                "refundCents": refund_cents,
                "refundedAt": now,
                "updatedAt": now,
            }},
            event,
        )
        .await
    }

    async fn abort_refund(&self, id: &str) -> Result<(), StoreError> {
        self.transition(
            doc! {"_id": id, "status": "refunding"},
            doc! {"$set": {"status": "completed", "updatedAt": now_ms()}},
        )
        .await
        .map(|_| ())
    }

    async fn due_work(&self, limit: u32, stale_before: i64) -> Result<Vec<Payment>, StoreError> {
        let filter = doc! {"$or": [
            {"status": "pending"},
            {"status": "completed", "refundRequested": true},
            {"status": {"$in": ["processing", "refunding"]}, "updatedAt": {"$lt": stale_before}},
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
                "updatedAt": {"$lt": stale_before},
            },
            doc! {"$set": {"updatedAt": now_ms()}},
        )
        .await
    }

    async fn recover(&self) -> Result<Vec<Payment>, StoreError> {
        self.indexed().await?;
        self.payments
            .update_many(
                doc! {"status": "processing"},
                doc! {"$set": {"status": "pending", "updatedAt": now_ms()}},
            )
            .await?;
        self.find_many(doc! {"status": "refunding"}, None).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        shared::mongo::ping(&self.db).await?;
        self.indexed().await
    }

    fn outbox(&self) -> Arc<dyn OutboxStore> {
        Arc::new(MongoOutbox::new(&self.db))
    }
}
