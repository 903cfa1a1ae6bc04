//! `EventStore` for [`MongoEventStore`]: every state change is one conditional update on one
//! delivery document; reads are indexed queries joined in memory by event id.

use super::docs::{delivery_id, requeue, wanting};
use super::MongoEventStore;
use crate::domain::{
    Counts, DeadDelivery, Delivery, DeliveryStatus, DueDelivery, StoredEvent, Subscription,
};
use crate::store::shapes::{StoredDelivery, StoredEnvelope};
use crate::store::{Claim, Deliveries, EventStore, FailedAttempt, NewEvents, StoreError};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use shared::events::EventEnvelope;
use std::collections::{HashMap, HashSet};

const PENDING: &str = "pending";

impl MongoEventStore {
    /// Applies `update` to `subscriber`'s pending deliveries of these events, in one update.
    async fn update_pending(
        &self,
        deliveries: Deliveries<'_>,
        update: mongodb::bson::Document,
    ) -> Result<(), StoreError> {
        if deliveries.event_ids.is_empty() {
            return Ok(());
        }
        self.indexed().await?;
        let ids: Vec<String> = deliveries
            .event_ids
            .iter()
            .map(|id| delivery_id(id, deliveries.subscriber))
            .collect();
        self.deliveries
            .update_many(doc! {"_id": {"$in": ids}, "status": PENDING}, update)
            .await?;
        Ok(())
    }
}
const DEAD: &str = "dead";
/// How long an append waits for another call that is storing the same event to finish it.
const APPEND_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl MongoEventStore {
    /// Inserts the deliveries of these incomplete events (those missing), then marks them
    /// complete in one conditional update tagged with a nonce: the ids this call completed.
    async fn finish(
        &self,
        open: &[StoredEnvelope],
        now: i64,
        due_at: i64,
    ) -> Result<HashSet<String>, StoreError> {
        if open.is_empty() {
            return Ok(HashSet::new());
        }
        let fanout: Vec<(&str, i64, &[String])> = open
            .iter()
            .map(|e| (e.id.as_str(), e.seq, e.subscribers.as_slice()))
            .collect();
        self.insert_deliveries(&fanout, now, due_at).await?;
        let open_ids: Vec<&str> = open.iter().map(|e| e.id.as_str()).collect();
        let nonce = shared::ids::new_object_id();
        self.events
            .update_many(
                doc! {"_id": {"$in": &open_ids}, "complete": false},
                doc! {"$set": {"complete": true, "completed_by": &nonce}},
            )
            .await?;
        Ok(self
            .events
            .find(doc! {"_id": {"$in": &open_ids}, "completed_by": &nonce})
            .await?
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect())
    }

    /// Those of these stored events still incomplete after [`APPEND_WAIT`]: left by an append
    /// that failed half-way (one in progress finishes within it).
    async fn left_incomplete(&self, ids: &[String]) -> Result<Vec<StoredEnvelope>, StoreError> {
        let deadline = tokio::time::Instant::now() + APPEND_WAIT;
        let mut ids = ids.to_vec();
        loop {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let open: Vec<StoredEnvelope> = self
                .events_by_id(&ids)
                .await?
                .into_iter()
                .filter(|e| !e.complete)
                .collect();
            if open.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(open);
            }
            ids = open.into_iter().map(|e| e.id).collect();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[async_trait]
impl EventStore for MongoEventStore {
    async fn append(&self, new: NewEvents<'_>) -> Result<Vec<String>, StoreError> {
        let NewEvents {
            events,
            subscribers,
            now,
            due_at,
        } = new;
        self.indexed().await?;
        let mut seen = HashSet::new();
        let batch: Vec<&EventEnvelope> = events.iter().filter(|e| seen.insert(&e.id)).collect();
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.reserve_seq(batch.len()).await?;
        let docs = batch
            .iter()
            .zip(first..)
            .map(|(e, seq)| StoredEnvelope::new(e, seq, subscribers, now))
            .collect::<Result<Vec<_>, _>>()?;
        // Who stores an event is decided by its insert (a unique `_id`, atomic on MongoDB and on
        // FerretDB alike): that call finishes it and reports it. One there already is complete
        // (stored earlier), being finished by the call that inserted it (given a moment), or was
        // left half-done by an append that failed: this call finishes that one.
        let inserted = shared::mongo::insert_new_many(&self.events, docs.clone()).await?;
        let (mine, theirs): (Vec<_>, Vec<_>) =
            docs.into_iter().zip(inserted).partition(|(_, i)| *i);
        let mine: Vec<StoredEnvelope> = mine.into_iter().map(|(d, _)| d).collect();
        let mut stored = self.finish(&mine, now, due_at).await?;
        let theirs: Vec<String> = theirs.into_iter().map(|(d, _)| d.id).collect();
        let left = self.left_incomplete(&theirs).await?;
        stored.extend(self.finish(&left, now, due_at).await?);
        Ok(batch
            .iter()
            .map(|e| e.id.clone())
            .filter(|id| stored.contains(id))
            .collect())
    }

    async fn claim(&self, claim: Claim<'_>) -> Result<Vec<DueDelivery>, StoreError> {
        let Claim {
            subscriber,
            now,
            lease_until,
            limit,
        } = claim;
        self.indexed().await?;
        let due = doc! {
            "subscriber": subscriber, "status": PENDING, "next_attempt_at": {"$lte": now},
        };
        // One conditional update leases those still due (another replica may lease some first).
        let won = shared::mongo::claim(
            &self.deliveries,
            due,
            doc! {"seq": 1, "event_id": 1},
            limit,
            lease_until,
        )
        .await?;
        let events = self.events_of(&won).await?;
        Ok(won
            .into_iter()
            .filter_map(|d| {
                let body = events.get(&d.event_id)?.body();
                Some(DueDelivery {
                    attempts: u32::try_from(d.attempts).unwrap_or(u32::MAX),
                    event_id: d.event_id,
                    body,
                })
            })
            .collect())
    }

    async fn next_due_at(&self, subscriber: &str) -> Result<Option<i64>, StoreError> {
        self.indexed().await?;
        let first = self
            .deliveries
            .find_one(doc! {"subscriber": subscriber, "status": PENDING})
            .sort(doc! {"next_attempt_at": 1})
            .await?;
        Ok(first.map(|d| d.next_attempt_at))
    }

    async fn mark_delivered(&self, deliveries: Deliveries<'_>, now: i64) -> Result<(), StoreError> {
        let update = doc! {
            "$set": {"status": "delivered", "delivered_at": now, "updated_at": now},
            "$inc": {"attempts": 1_i64},
        };
        self.update_pending(deliveries, update).await
    }

    async fn release(&self, deliveries: Deliveries<'_>, now: i64) -> Result<(), StoreError> {
        let update = doc! {"$min": {"next_attempt_at": now}};
        self.update_pending(deliveries, update).await
    }

    async fn mark_failed(
        &self,
        failed: FailedAttempt<'_>,
        now: i64,
    ) -> Result<Option<DeliveryStatus>, StoreError> {
        self.indexed().await?;
        // SQLite decides dead-or-pending on the stored count in one UPDATE. Here the two outcomes
        // are two conditional updates with complementary filters on the stored count: at most
        // one matches, and a replay in between only makes the second one match.
        let id = delivery_id(failed.event_id, failed.subscriber);
        let last = i64::from(failed.max_attempts) - 1;
        let outcomes = [
            (DeliveryStatus::Dead, doc! {"$gte": last}),
            (DeliveryStatus::Pending, doc! {"$lt": last}),
        ];
        // A concurrent attempt may move the count between the two filters; look again then.
        for _ in 0..3 {
            for (status, count) in &outcomes {
                let done = self
                    .deliveries
                    .update_one(
                        doc! {"_id": &id, "status": PENDING, "attempts": count.clone()},
                        doc! {
                            "$set": {
                                "status": status.as_str(), "last_error": failed.error,
                                "next_attempt_at": failed.retry_at, "updated_at": now,
                            },
                            "$inc": {"attempts": 1_i64},
                        },
                    )
                    .await?;
                if done.matched_count == 1 {
                    return Ok(Some(*status));
                }
            }
            let pending = self
                .deliveries
                .count_documents(doc! {"_id": &id, "status": PENDING})
                .await?;
            if pending == 0 {
                break;
            }
        }
        Ok(None)
    }

    async fn replay(
        &self,
        event_id: &str,
        subscribers: &[Subscription],
        now: i64,
    ) -> Result<u64, StoreError> {
        self.indexed().await?;
        let event = self
            .events
            .find_one(doc! {"_id": event_id, "complete": true})
            .await?
            .ok_or(StoreError::NotFound)?;
        let names = wanting(subscribers, &event.event_type);
        self.insert_deliveries(&[(event_id, event.seq, &names)], now, now)
            .await?;
        let done = self
            .deliveries
            .update_many(doc! {"event_id": event_id}, requeue(now))
            .await?;
        Ok(done.matched_count)
    }

    async fn recent(
        &self,
        event_type: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.indexed().await?;
        let mut filter = doc! {"complete": true};
        if let Some(t) = event_type {
            filter.insert("type", t);
        }
        let docs: Vec<StoredEnvelope> = self
            .events
            .find(filter)
            .sort(doc! {"seq": -1, "_id": -1})
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = docs.iter().map(|e| e.id.as_str()).collect();
        let mut cursor = self
            .deliveries
            .find(doc! {"event_id": {"$in": &ids}})
            .sort(doc! {"subscriber": 1})
            .await?;
        let mut by_event: HashMap<String, Vec<Delivery>> = HashMap::new();
        while let Some(d) = cursor.try_next().await? {
            by_event
                .entry(d.event_id.clone())
                .or_default()
                .push(Delivery::from(d));
        }
        docs.into_iter()
            .map(|e| {
                let id = e.id.clone();
                let mut stored = StoredEvent::try_from(e)?;
                stored.deliveries = by_event.remove(&id).unwrap_or_default();
                Ok(stored)
            })
            .collect()
    }

    async fn dead(&self, limit: u32) -> Result<Vec<DeadDelivery>, StoreError> {
        self.indexed().await?;
        let found: Vec<StoredDelivery> = self
            .deliveries
            .find(doc! {"status": DEAD})
            .sort(doc! {"updated_at": -1, "seq": -1})
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        self.with_events(&found)
            .await?
            .into_iter()
            .map(|(e, delivery)| {
                Ok(DeadDelivery {
                    delivery,
                    event: StoredEvent::try_from(e)?,
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.indexed().await?;
        let total_events = self.events.count_documents(doc! {"complete": true}).await?;
        let pending = self
            .deliveries
            .count_documents(doc! {"status": PENDING})
            .await?;
        let dead = self
            .deliveries
            .count_documents(doc! {"status": DEAD})
            .await?;
        Ok(Counts {
            total_events,
            pending,
            dead,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        shared::mongo::ping(&self.db).await
    }
}
