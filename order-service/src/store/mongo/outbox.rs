//! The MongoDB outbox and release queue, and the flush that moves events and stock releases out of
//! an order document into them (idempotently: the event id / order id is the `_id`).

use super::docs::{Embedded, OrderDoc, ORDERS, OUTBOX, RELEASES};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};
use shared::events::{EventEnvelope, OutboxStore};
use shared::mongo::is_duplicate_key;
use shared::store::{now_ms, StoreError};
use std::time::Duration;

/// How many dirty orders one recovery sweep flushes.
const SWEEP: i64 = 100;

/// Inserts `d`, treating "already there" as success.
async fn insert_once(coll: &Collection<Document>, d: Document) -> Result<(), StoreError> {
    match coll.insert_one(d).await {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Queues the stock release of `order_id` (no-op when one exists, done or not).
pub(super) async fn queue_release(db: &Database, order_id: &str) -> Result<(), StoreError> {
    let now = now_ms();
    let task = doc! {"_id": order_id, "attempts": 0_i64, "nextAttemptAt": now, "done": false};
    insert_once(&db.collection(RELEASES), task).await
}

/// Moves what `order` (as read) carries into the outbox and release queue, then removes it from
/// the document. `dirty` is cleared only if nothing changed since (`rev`), so events written by a
/// concurrent change stay marked for their own flush or the sweep.
pub(super) async fn flush(db: &Database, order: &OrderDoc) -> Result<(), StoreError> {
    let outbox = db.collection::<Document>(OUTBOX);
    for e in &order.outbox {
        insert_once(&outbox, outbox_doc(e)).await?;
    }
    if order.release_pending {
        queue_release(db, &order.id).await?;
    }
    let ids: Vec<&str> = order.outbox.iter().map(|e| e.id.as_str()).collect();
    let pull = doc! {"outbox": {"id": {"$in": &ids}}};
    let orders = db.collection::<Document>(ORDERS);
    let cleared = orders
        .update_one(
            doc! {"_id": &order.id, "rev": order.rev},
            doc! {"$pull": pull.clone(), "$set": {"dirty": false, "releasePending": false}},
        )
        .await?;
    if cleared.matched_count == 0 && !ids.is_empty() {
        orders
            .update_one(doc! {"_id": &order.id}, doc! {"$pull": pull})
            .await?;
    }
    Ok(())
}

/// Flushes orders left dirty by a process that stopped between a change and its flush.
pub(super) async fn recover(db: &Database) -> Result<(), StoreError> {
    let dirty: Vec<Document> = db
        .collection::<Document>(ORDERS)
        .find(doc! {"dirty": true})
        .limit(SWEEP)
        .await?
        .try_collect()
        .await?;
    for d in dirty {
        flush(db, &OrderDoc::decode(d)?).await?;
    }
    Ok(())
}

fn outbox_doc(e: &Embedded) -> Document {
    doc! {
        "_id": &e.id,
        "event": &e.event,
        "createdAt": e.at,
        "attempts": 0_i64,
        "nextAttemptAt": e.at,
        "delivered": false,
    }
}

/// The outbox collection of the order database.
pub struct MongoOutbox {
    db: Database,
}

impl MongoOutbox {
    pub(super) fn new(db: Database) -> Self {
        Self { db }
    }

    fn coll(&self) -> Collection<Document> {
        self.db.collection(OUTBOX)
    }
}

#[async_trait]
impl OutboxStore for MongoOutbox {
    async fn due(&self, limit: u32) -> Result<Vec<EventEnvelope>, StoreError> {
        recover(&self.db).await?;
        let rows: Vec<Document> = self
            .coll()
            .find(doc! {"delivered": false, "nextAttemptAt": {"$lte": now_ms()}})
            .sort(doc! {"createdAt": 1, "_id": 1})
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        rows.iter()
            .map(|d| {
                let json = d
                    .get_str("event")
                    .map_err(|e| StoreError::Other(format!("stored event is invalid: {e}")))?;
                Ok(serde_json::from_str(json)?)
            })
            .collect()
    }

    async fn delivered(&self, ids: &[String]) -> Result<(), StoreError> {
        self.coll()
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$set": {"delivered": true, "deliveredAt": now_ms()}},
            )
            .await?;
        Ok(())
    }

    async fn failed(&self, ids: &[String], retry_in: Duration) -> Result<(), StoreError> {
        let next = now_ms() + retry_in.as_millis() as i64;
        self.coll()
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$inc": {"attempts": 1_i64}, "$set": {"nextAttemptAt": next}},
            )
            .await?;
        Ok(())
    }

    async fn pending(&self) -> Result<u64, StoreError> {
        recover(&self.db).await?;
        Ok(self
            .coll()
            .count_documents(doc! {"delivered": false})
            .await?)
    }
}
