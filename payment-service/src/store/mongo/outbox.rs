//! The MongoDB outbox of the payment database, for the relay. A state change pushes its event
//! (as JSON text) into the payment document itself; before every read the relay moves those
//! embedded events into the `outbox` collection (insert by event id, then `$pull`), which is
//! idempotent, so a crash between the two steps only repeats the insert, which is ignored.

use super::docs::{insert_new, OUTBOX, PAYMENTS};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::{Collection, Database};
use shared::events::{EventEnvelope, OutboxStore};
use shared::store::{now_ms, StoreError};
use std::time::Duration;

/// Most payment documents whose embedded events are moved per call.
const PUBLISH_BATCH: i64 = 500;

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

    /// Moves events embedded in payment documents into the outbox collection.
    async fn publish_embedded(&self) -> Result<(), StoreError> {
        let docs: Vec<Document> = self
            .payments
            .find(doc! {"outbox.0": {"$exists": true}})
            .projection(doc! {"outbox": 1})
            .sort(doc! {"updatedAt": 1, "_id": 1})
            .limit(PUBLISH_BATCH)
            .await?
            .try_collect()
            .await?;
        for d in docs {
            let payment_id = d
                .get_str("_id")
                .map_err(|e| StoreError::Other(format!("stored payment has no string _id: {e}")))?;
            let events = d.get_array("outbox").map_err(|e| {
                StoreError::Other(format!("stored outbox of {payment_id} is invalid: {e}"))
            })?;
            for raw in events {
                let Bson::String(text) = raw else {
                    return Err(StoreError::Other(format!(
                        "stored outbox entry of {payment_id} is not text"
                    )));
                };
                let event: EventEnvelope = serde_json::from_str(text)?;
                let now = now_ms();
                insert_new(
                    &self.outbox,
                    &doc! {
                        "_id": &event.id,
                        "event": text,
                        "createdAt": now,
                        "attempts": 0_i64,
                        "nextAttemptAt": now,
                    },
                )
                .await?;
                self.payments
                    .update_one(doc! {"_id": payment_id}, doc! {"$pull": {"outbox": text}})
                    .await?;
            }
        }
        Ok(())
    }
}

/// The event to embed in a payment document by the update that makes it happen.
pub(super) fn embedded(event: &EventEnvelope) -> Result<String, StoreError> {
    Ok(serde_json::to_string(event)?)
}

#[async_trait]
impl OutboxStore for MongoOutbox {
    async fn due(&self, limit: u32) -> Result<Vec<EventEnvelope>, StoreError> {
        self.publish_embedded().await?;
        let docs: Vec<Document> = self
            .outbox
            .find(doc! {"deliveredAt": {"$exists": false}, "nextAttemptAt": {"$lte": now_ms()}})
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
        self.publish_embedded().await?;
        Ok(self
            .outbox
            .count_documents(doc! {"deliveredAt": {"$exists": false}})
            .await?)
    }
}
