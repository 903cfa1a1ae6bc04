//! The MongoDB outbox of the payment database, for the relay. An event is written `held` before
//! the state change it announces, released after it applied or deleted after it did not (see
//! `MongoPaymentStore::transition_with_event`). A hold left by a crash is settled here once it is
//! old: released if the payment records the event id, deleted otherwise. The relay never writes
//! payment documents, so it cannot race a state change.

use super::docs::{OUTBOX, PAYMENTS};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};
use shared::events::{EventEnvelope, OutboxStore};
use shared::store::{now_ms, StoreError};
use std::time::Duration;

/// Age after which a held event is settled: far longer than one conditional update can take, so
/// a hold is never settled while its state change may still apply.
pub(super) const HOLD_TIMEOUT: Duration = Duration::from_secs(300);
/// Most stale holds settled per relay read.
const SETTLE_BATCH: i64 = 100;

/// The outbox in a payment database.
#[derive(Clone)]
pub struct MongoOutbox {
    payments: Collection<Document>,
    outbox: Collection<Document>,
}

impl MongoOutbox {
    /// The outbox of `db`.
    pub fn new(db: &Database) -> Self {
        Self {
            payments: db.collection(PAYMENTS),
            outbox: db.collection(OUTBOX),
        }
    }

    /// Writes `event` about payment `payment_id`, held (not yet due).
    pub(super) async fn hold(
        &self,
        payment_id: &str,
        event: &EventEnvelope,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        self.outbox
            .insert_one(doc! {
                "_id": &event.id,
                "paymentId": payment_id,
                "event": serde_json::to_string(event)?,
                "createdAt": now,
                "attempts": 0_i64,
                "nextAttemptAt": now,
                "held": true,
            })
            .await?;
        Ok(())
    }

    /// Makes a held event due.
    pub(super) async fn release(&self, event_id: &str) -> Result<(), StoreError> {
        self.outbox
            .update_one(doc! {"_id": event_id}, doc! {"$unset": {"held": ""}})
            .await?;
        Ok(())
    }

    /// Deletes a held event whose state change did not apply.
    pub(super) async fn discard(&self, event_id: &str) -> Result<(), StoreError> {
        self.outbox
            .delete_one(doc! {"_id": event_id, "held": true})
            .await?;
        Ok(())
    }

    /// Settles holds older than [`HOLD_TIMEOUT`] that a crash left behind.
    async fn settle_stale_holds(&self) -> Result<(), StoreError> {
        let before = now_ms() - HOLD_TIMEOUT.as_millis() as i64;
        let stale: Vec<Document> = self
            .outbox
            .find(doc! {"held": true, "createdAt": {"$lt": before}})
            .projection(doc! {"_id": 1, "paymentId": 1})
            .limit(SETTLE_BATCH)
            .await?
            .try_collect()
            .await?;
        for d in stale {
            let (Ok(event_id), Ok(payment_id)) = (d.get_str("_id"), d.get_str("paymentId")) else {
                return Err(StoreError::Other(format!(
                    "stored outbox hold is invalid: {d}"
                )));
            };
            let applied = self
                .payments
                .find_one(doc! {"_id": payment_id, "eventIds": event_id})
                .projection(doc! {"_id": 1})
                .await?
                .is_some();
            if applied {
                tracing::warn!(
                    event_id,
                    payment_id,
                    "releasing an event held since a crash"
                );
                self.release(event_id).await?;
            } else {
                self.discard(event_id).await?;
            }
        }
        Ok(())
    }
}

/// Undelivered events that are not held.
fn undelivered() -> Document {
    doc! {"deliveredAt": {"$exists": false}, "held": {"$exists": false}}
}

#[async_trait]
impl OutboxStore for MongoOutbox {
    async fn due(&self, limit: u32) -> Result<Vec<EventEnvelope>, StoreError> {
        self.settle_stale_holds().await?;
        let mut filter = undelivered();
        filter.insert("nextAttemptAt", doc! {"$lte": now_ms()});
        let docs: Vec<Document> = self
            .outbox
            .find(filter)
            .sort(doc! {"createdAt": 1, "_id": 1})
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        docs.iter()
            .map(|d| {
                let text = d
                    .get_str("event")
                    .map_err(|e| StoreError::Other(format!("stored outbox event: {e}")))?;
                serde_json::from_str(text).map_err(StoreError::from)
            })
            .collect()
    }

    async fn delivered(&self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.outbox
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$set": {"deliveredAt": now_ms()}},
            )
            .await?;
        Ok(())
    }

    async fn failed(&self, ids: &[String], retry_in: Duration) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let next = now_ms() + retry_in.as_millis() as i64;
        self.outbox
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$inc": {"attempts": 1_i64}, "$set": {"nextAttemptAt": next}},
            )
            .await?;
        Ok(())
    }

    async fn pending(&self) -> Result<u64, StoreError> {
        Ok(self.outbox.count_documents(undelivered()).await?)
    }
}
