//! The transactional outbox of a MongoDB store, one protocol for every service (SQLite's outbox is
//! a table written in the change's own transaction: `events::SQLITE_OUTBOX_SCHEMA`).
//!
//! Stored schema, collection [`OUTBOX`], the SQLite table's columns under the same names:
//! `{_id: event id, event: the envelope as JSON text, created_at, attempts, next_attempt_at,
//! delivered_at?}`, plus `held: <change id>` and `aggregate_id` while the change that wrote it
//! is in flight, and the `claim` of the relay that last claimed it ([`super::claim`]). A store
//! may queue other documents with a change the same way (orders' stock releases): [`Task`]s, in
//! their own collections, carrying the same hold fields.
//!
//! MongoDB commits one document at a time, so a change and its event are written thus:
//! 1. the event (and the change's tasks) are inserted HELD, tagged with the change id (the event
//!    id) and the id of the aggregate document the change is about;
//! 2. the change is ONE conditional update (or insert) of that document which also records the
//!    change id in its [`EVENT_IDS`] array ([`record`]);
//! 3. the holds are released when the change applied, deleted when it did not.
//!
//! A process that stops between 1 and 3 leaves holds behind. Once older than [`HOLD_TIMEOUT`],
//! far longer than a change can take, they are settled by [`MongoOutbox::settle`] (the relay runs
//! it before each read): released when the aggregate records the change id, deleted otherwise.
//! Only changes write aggregate documents, so settling never races one.

use crate::events::{EventEnvelope, OutboxStore};
use crate::mongo::IndexSpec;
use crate::store::{now_ms, StoreError};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::{Collection, Database};
use std::future::Future;
use std::time::Duration;

/// The outbox collection.
pub const OUTBOX: &str = "outbox";
/// The array of an aggregate document that records the changes applied to it.
pub const EVENT_IDS: &str = "event_ids";
/// Age after which a hold is settled.
pub const HOLD_TIMEOUT: Duration = Duration::from_secs(300);
/// Most stale holds settled per collection and call.
const SETTLE_BATCH: i64 = 100;

/// A document queued together with a change, besides its event: inserted held with the event and
/// released or deleted with it. Its `_id` must be new (the change id is a good one).
#[derive(Debug, Clone)]
pub struct Task {
    /// The collection, one of those the outbox was told about ([`MongoOutbox::new`]).
    pub collection: &'static str,
    /// The document.
    pub doc: Document,
}

/// Adds the recording of change `event` to the `$push` of an aggregate's update.
pub fn record(push: &mut Document, event: &EventEnvelope) {
    push.insert(EVENT_IDS, &event.id);
}

/// The outbox of a database whose aggregates live in one collection.
#[derive(Clone)]
pub struct MongoOutbox {
    db: Database,
    aggregates: &'static str,
    tasks: &'static [&'static str],
}

impl MongoOutbox {
    /// The outbox of `db` for changes to documents of `aggregates`, which may also queue
    /// [`Task`]s in the collections `tasks`.
    pub fn new(db: &Database, aggregates: &'static str, tasks: &'static [&'static str]) -> Self {
        Self {
            db: db.clone(),
            aggregates,
            tasks,
        }
    }

    /// The indexes the protocol reads through: the relay's scan (undelivered, unheld events
    /// oldest first, due time read from the index) and the search for old holds, in the outbox
    /// and in every task collection.
    pub fn indexes(tasks: &[&'static str]) -> Vec<IndexSpec> {
        let mut specs = vec![
            IndexSpec::named(
                OUTBOX,
                "outbox_pending",
                doc! {"delivered_at": 1, "held": 1, "created_at": 1, "_id": 1, "next_attempt_at": 1},
            ),
            IndexSpec::named(OUTBOX, "outbox_held", doc! {"held": 1, "created_at": 1}),
        ];
        specs.extend(super::claim_indexes());
        for collection in tasks {
            specs.push(IndexSpec::keys(
                collection,
                doc! {"held": 1, "created_at": 1},
            ));
        }
        specs
    }

    fn outbox(&self) -> Collection<Document> {
        self.db.collection(OUTBOX)
    }

    /// Writes `event` and `tasks` held, runs `change`, then releases them if it applied
    /// (`Ok(Some(_))`) or deletes them if it did not (`Ok(None)`, or a `Conflict`). After any
    /// other error it is unknown whether the change applied: the holds are left to
    /// [`MongoOutbox::settle`]. `change` must [`record`] the event id in the aggregate
    /// `aggregate_id`.
    pub async fn commit<T, F>(
        &self,
        aggregate_id: &str,
        event: &EventEnvelope,
        tasks: Vec<Task>,
        change: F,
    ) -> Result<Option<T>, StoreError>
    where
        F: Future<Output = Result<Option<T>, StoreError>> + Send,
    {
        let now = now_ms();
        let hold = doc! {"held": &event.id, "aggregate_id": aggregate_id, "created_at": now};
        let mut entry = doc! {
            "_id": &event.id,
            "event": serde_json::to_string(event)?,
            "attempts": 0_i64,
            "next_attempt_at": now,
        };
        entry.extend(hold.clone());
        self.outbox().insert_one(entry).await?;
        let mut held = Vec::with_capacity(tasks.len());
        for mut task in tasks {
            task.doc.extend(hold.clone());
            let coll = self.db.collection::<Document>(task.collection);
            if let Err(e) = coll.insert_one(task.doc).await {
                self.settle_now(&event.id, false, &held).await;
                return Err(e.into());
            }
            held.push(task.collection);
        }
        let outcome = change.await;
        match &outcome {
            Ok(applied) => self.settle_now(&event.id, applied.is_some(), &held).await,
            Err(StoreError::Conflict(_)) => self.settle_now(&event.id, false, &held).await,
            Err(_) => {}
        }
        outcome
    }

    /// Releases or deletes the holds of change `change_id` in the outbox and `tasks`; a failure
    /// is logged and left to [`MongoOutbox::settle`].
    async fn settle_now(&self, change_id: &str, applied: bool, tasks: &[&'static str]) {
        for collection in std::iter::once(OUTBOX).chain(tasks.iter().copied()) {
            if let Err(e) = self.resolve(collection, change_id, applied).await {
                tracing::warn!(change_id, collection, error = %e, "outbox hold left to be settled");
            }
        }
    }

    async fn resolve(
        &self,
        collection: &str,
        change_id: &str,
        applied: bool,
    ) -> Result<(), StoreError> {
        let coll = self.db.collection::<Document>(collection);
        let held = doc! {"held": change_id};
        if applied {
            coll.update_many(held, doc! {"$unset": {"held": ""}})
                .await?;
        } else {
            coll.delete_many(held).await?;
        }
        Ok(())
    }

    /// Settles the holds older than [`HOLD_TIMEOUT`] that a stopped process left behind, in the
    /// outbox and every task collection: each by whether its aggregate records its change.
    pub async fn settle(&self) -> Result<(), StoreError> {
        let before = now_ms() - HOLD_TIMEOUT.as_millis() as i64;
        let aggregates = self.db.collection::<Document>(self.aggregates);
        for collection in std::iter::once(OUTBOX).chain(self.tasks.iter().copied()) {
            let stale: Vec<Document> = self
                .db
                .collection::<Document>(collection)
                .find(doc! {"held": {"$exists": true}, "created_at": {"$lt": before}})
                .projection(doc! {"held": 1, "aggregate_id": 1})
                .limit(SETTLE_BATCH)
                .await?
                .try_collect()
                .await?;
            for d in stale {
                let (Ok(change_id), Ok(aggregate_id)) =
                    (d.get_str("held"), d.get_str("aggregate_id"))
                else {
                    return Err(StoreError::Other(format!("stored hold is invalid: {d}")));
                };
                let applied = aggregates
                    .find_one(doc! {"_id": aggregate_id, EVENT_IDS: change_id})
                    .projection(doc! {"_id": 1})
                    .await?
                    .is_some();
                if applied {
                    tracing::warn!(
                        change_id,
                        aggregate_id,
                        collection,
                        "releasing a hold left by a stopped process"
                    );
                }
                self.resolve(collection, change_id, applied).await?;
            }
        }
        Ok(())
    }
}

/// Undelivered events whose change applied.
fn undelivered() -> Document {
    doc! {"delivered_at": {"$exists": false}, "held": {"$exists": false}}
}

#[async_trait]
impl OutboxStore for MongoOutbox {
    async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<EventEnvelope>, StoreError> {
        self.settle().await?;
        let now = now_ms();
        let mut due = undelivered();
        due.insert("next_attempt_at", doc! {"$lte": now});
        let until = now.saturating_add(crate::store::millis(lease));
        let docs = super::claim(
            &self.outbox(),
            due,
            doc! {"created_at": 1, "_id": 1},
            limit,
            until,
        )
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
        self.outbox()
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$set": {"delivered_at": now_ms()}},
            )
            .await?;
        Ok(())
    }

    async fn failed(&self, ids: &[String], retry_in: Duration) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let next = now_ms() + retry_in.as_millis() as i64;
        self.outbox()
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$inc": {"attempts": 1_i64}, "$set": {"next_attempt_at": next}},
            )
            .await?;
        Ok(())
    }

    async fn pending(&self) -> Result<u64, StoreError> {
        Ok(self.outbox().count_documents(undelivered()).await?)
    }
}
