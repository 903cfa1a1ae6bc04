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
    // `$pullAll` by exact value (what was read), which FerretDB supports; it ignores a `$pull`
    // condition such as `{id: {$in: …}}`.
    let pull = doc! {"outbox": mongodb::bson::to_bson(&order.outbox)?};
    let orders = db.collection::<Document>(ORDERS);
    let cleared = orders
        .update_one(
            doc! {"_id": &order.id, "rev": order.rev},
            doc! {"$pullAll": pull.clone(), "$set": {"dirty": false, "releasePending": false}},
        )
        .await?;
    if cleared.matched_count == 0 && !order.outbox.is_empty() {
        orders
            .update_one(doc! {"_id": &order.id}, doc! {"$pullAll": pull})
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
    // One order that cannot be flushed must not hold up the others (nor the relay).
    for d in dirty {
        if let Err(e) = flush_stored(db, d).await {
            tracing::warn!(error = %e, "cannot flush a dirty order");
        }
    }
    Ok(())
}

async fn flush_stored(db: &Database, d: Document) -> Result<(), StoreError> {
    flush(db, &OrderDoc::decode(d)?).await
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::MongoOrderStore;
    use super::*;
    use crate::domain::{Order, OrderItem, OrderStatus, PaymentStatus, ShippingAddress};
    use crate::store::OrderStore;
    use shared::events::types;

    fn order() -> Order {
        let items = vec![OrderItem {
            product_id: shared::ids::new_object_id(),
            name: "Mouse".into(),
            price_cents: 500,
            quantity: 1,
        }];
        Order {
            id: shared::ids::new_object_id(),
            user_id: shared::ids::new_object_id(),
            total_cents: 500,
            items,
            status: OrderStatus::Cancelled,
            payment_status: PaymentStatus::Pending,
            payment_id: None,
            shipping_address: ShippingAddress {
                street: "s".into(),
                city: "c".into(),
                state: "st".into(),
                zip_code: "z".into(),
                country: "in".into(),
            },
            tracking_number: None,
            notes: None,
            created_at: 1,
            updated_at: 1,
        }
    }

    /// A document as a process leaves it when it stops between the change and the flush.
    async fn stranded(db: &Database, o: &Order) -> EventEnvelope {
        let event = EventEnvelope::new(
            types::ORDER_CANCELLED,
            crate::app::events::cancelled(o),
            "t",
        );
        let mut d = OrderDoc::document(o, None, Embedded::new(&event, 5).unwrap()).unwrap();
        d.insert("releasePending", true);
        db.collection::<Document>(ORDERS)
            .insert_one(d)
            .await
            .unwrap();
        event
    }

    #[tokio::test]
    async fn events_and_releases_stranded_in_an_order_are_flushed_by_the_sweep() {
        let Some(m) = test_support::TestMongo::new() else {
            return;
        };
        let store = MongoOrderStore::connect(&m.url, Default::default())
            .await
            .unwrap();
        let o = order();
        let event = stranded(&store.db, &o).await;

        assert_eq!(store.outbox().pending().await.unwrap(), 1);
        assert_eq!(store.outbox().due(10).await.unwrap(), vec![event.clone()]);
        assert_eq!(store.due_releases(10).await.unwrap(), vec![o.id.clone()]);
        let d = store.read(doc! {"_id": &o.id}).await.unwrap().unwrap();
        assert!(
            !d.dirty && d.outbox.is_empty() && !d.release_pending,
            "{d:?}"
        );
        assert_eq!(d.order().unwrap(), o);
        recover(&store.db).await.unwrap();
        assert_eq!(store.outbox().due(10).await.unwrap().len(), 1, "once");
        m.cleanup().await;
    }

    #[tokio::test]
    async fn a_flush_that_lost_a_race_moves_its_events_but_leaves_the_order_dirty() {
        let Some(m) = test_support::TestMongo::new() else {
            return;
        };
        let store = MongoOrderStore::connect(&m.url, Default::default())
            .await
            .unwrap();
        let o = order();
        stranded(&store.db, &o).await;
        let seen = store.read(doc! {"_id": &o.id}).await.unwrap().unwrap();
        store
            .orders()
            .update_one(doc! {"_id": &o.id}, doc! {"$inc": {"rev": 1_i64}})
            .await
            .unwrap();

        flush(&store.db, &seen).await.unwrap();

        let d = store.read(doc! {"_id": &o.id}).await.unwrap().unwrap();
        assert!(d.outbox.is_empty(), "the flushed events left the order");
        assert!(d.dirty, "the newer change keeps the mark");
        assert_eq!(store.outbox().pending().await.unwrap(), 1);
        m.cleanup().await;
    }
}
