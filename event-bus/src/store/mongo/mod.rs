//! The MongoDB event store. Without transactions, an append stores each event with
//! `complete: false` and its subscriber list, inserts the deliveries (one document each, `_id` from
//! event id and subscriber, so a repeat is a duplicate key), then flips `complete`. The call whose
//! insert of the event document succeeded (a unique `_id`: atomic on MongoDB and FerretDB alike)
//! finishes and reports it, so two bus replicas given the same event at once store and hand it
//! over once; a later append of the same id finishes one a failed append left incomplete (after
//! giving one in progress a moment), deciding by a conditional update tagged with its nonce.
//! Every step is idempotent. Event listings, event totals and replay skip incomplete events; their deliveries, once
//! inserted, are attempted (the event is durable, and hiding due work would spin the worker).
//! Deliveries are separate documents, not an array in the event, so each state change is one
//! conditional `update_one` on top-level fields (no positional array operators) and due / dead /
//! counts are plain indexed queries.

mod docs;
mod event_store;

use super::shapes::{StoredDelivery, StoredEnvelope};
use super::StoreError;
use crate::domain::Delivery;
use docs::{COUNTERS, DELIVERIES, EVENTS, EVENT_SEQ};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use shared::mongo::{Indexes, MongoOptions};
use std::collections::HashMap;
use std::sync::Arc;

/// The database used when the URL names none.
pub const DEFAULT_DATABASE: &str = "ecommerce_events";

/// Events and deliveries in one MongoDB database.
#[derive(Clone)]
pub struct MongoEventStore {
    db: Database,
    events: Collection<StoredEnvelope>,
    deliveries: Collection<StoredDelivery>,
    /// Ensured before the first operation that succeeds.
    indexes: Arc<Indexes>,
}

impl MongoEventStore {
    /// Connects to `url` (database from its path, else `ecommerce_events`) and creates the indexes.
    /// A server that does not answer yet is not fatal: the service starts (its `/ready` and
    /// writes answer 503) and the indexes are created before the first operation that succeeds.
    pub async fn connect(url: &str, opts: MongoOptions) -> Result<Self, StoreError> {
        let db = shared::mongo::connect(url, DEFAULT_DATABASE, crate::SERVICE, opts).await?;
        let store = Self {
            events: db.collection(EVENTS),
            deliveries: db.collection(DELIVERIES),
            indexes: Arc::new(Indexes::new(&db, docs::indexes())),
            db,
        };
        store.indexes.at_startup().await?;
        Ok(store)
    }

    /// Creates the indexes unless done already; every operation goes through here first.
    async fn indexed(&self) -> Result<(), StoreError> {
        self.indexes.ensure().await
    }

    /// Reserves `n` consecutive arrival numbers; returns the first.
    async fn reserve_seq(&self, n: usize) -> Result<i64, StoreError> {
        let n = i64::try_from(n).map_err(|e| StoreError::Other(e.to_string()))?;
        let counters = self.db.collection::<Document>(COUNTERS);
        let bump = || {
            counters
                .find_one_and_update(doc! {"_id": EVENT_SEQ}, doc! {"$inc": {"seq": n}})
                .upsert(true)
                .return_document(ReturnDocument::After)
        };
        // The first appends to a new database may create the counter at the same moment; the
        // one whose upsert lost (a duplicate key) finds it there on its second try.
        let counter = match bump().await {
            Err(e) if shared::mongo::is_duplicate_key(&e) => bump().await?,
            other => other?,
        }
        .ok_or_else(|| StoreError::Other("sequence counter missing".to_string()))?;
        let last = counter
            .get_i64("seq")
            .map_err(|e| StoreError::Other(format!("sequence counter: {e}")))?;
        Ok(last - n + 1)
    }

    /// The stored events with these ids (any order).
    async fn events_by_id(&self, ids: &[String]) -> Result<Vec<StoredEnvelope>, StoreError> {
        Ok(self
            .events
            .find(doc! {"_id": {"$in": ids}})
            .await?
            .try_collect()
            .await?)
    }

    /// The stored events of these deliveries, by event id.
    async fn events_of(
        &self,
        deliveries: &[StoredDelivery],
    ) -> Result<HashMap<String, StoredEnvelope>, StoreError> {
        let ids: Vec<String> = deliveries.iter().map(|d| d.event_id.clone()).collect();
        let events = self.events_by_id(&ids).await?;
        Ok(events.into_iter().map(|e| (e.id.clone(), e)).collect())
    }

    /// Inserts a pending delivery, due at `due_at`, for each subscriber of each event that lacks
    /// one.
    async fn insert_deliveries(
        &self,
        events: &[(&str, i64, &[String])],
        now: i64,
        due_at: i64,
    ) -> Result<(), StoreError> {
        let docs: Vec<StoredDelivery> = events
            .iter()
            .flat_map(|(id, seq, subs)| {
                subs.iter()
                    .map(move |s| StoredDelivery::pending(id, s, *seq, now, due_at))
            })
            .collect();
        if docs.is_empty() {
            return Ok(());
        }
        // Those there already (a repeat, or another replica's) are kept as they are.
        shared::mongo::insert_new_many(&self.deliveries, docs)
            .await
            .map(drop)
    }

    /// Pairs deliveries with their events, keeping the deliveries' order.
    async fn with_events(
        &self,
        deliveries: &[StoredDelivery],
    ) -> Result<Vec<(StoredEnvelope, Delivery)>, StoreError> {
        let events = self.events_of(deliveries).await?;
        deliveries
            .iter()
            .filter_map(|d| events.get(&d.event_id).map(|e| (e, d)))
            .map(|(e, d)| Ok((e.clone(), Delivery::from(d.clone()))))
            .collect()
    }
}
