//! The queue of stock releases in MongoDB, `release_tasks`: `{_id, order_id, attempts,
//! next_attempt_at, done_at?}`, the columns of the SQLite table. A release a change queues is a
//! task of the outbox protocol (`_id` = the change id, held until the change applied); one queued
//! on its own (an order that could not be stored) has the order id as `_id`. The worker of each
//! replica claims the releases it makes (`claim`, set by [`shared::mongo::claim`]).

use super::docs::RELEASES;
use mongodb::bson::{doc, Document};
use mongodb::Database;
use shared::mongo::insert_new;
use shared::mongo::outbox::Task;
use shared::store::{now_ms, StoreError};
use std::time::Duration;

/// The release of `order_id`, queued by the change `change_id`.
pub(super) fn task(change_id: &str, order_id: &str) -> Task {
    Task {
        collection: RELEASES,
        doc: entry(change_id, order_id),
    }
}

fn entry(id: &str, order_id: &str) -> Document {
    doc! {"_id": id, "order_id": order_id, "attempts": 0_i64, "next_attempt_at": now_ms()}
}

/// Queues the release of `order_id` on its own (no-op when one is queued this way already).
pub(super) async fn queue(db: &Database, order_id: &str) -> Result<(), StoreError> {
    let coll = db.collection::<Document>(RELEASES);
    insert_new(&coll, &entry(order_id, order_id))
        .await
        .map(drop)
}

/// Claims the releases due, oldest first, for `lease` ([`shared::mongo::claim`]); their order
/// ids, each once.
pub(super) async fn claim(
    db: &Database,
    limit: u32,
    lease: Duration,
) -> Result<Vec<String>, StoreError> {
    let now = now_ms();
    let rows = shared::mongo::claim(
        &db.collection::<Document>(RELEASES),
        doc! {
            "done_at": {"$exists": false},
            "held": {"$exists": false},
            "next_attempt_at": {"$lte": now},
        },
        doc! {"next_attempt_at": 1, "_id": 1},
        limit,
        now.saturating_add(shared::store::millis(lease)),
    )
    .await?;
    let mut ids: Vec<String> = Vec::with_capacity(rows.len());
    for d in rows {
        let id = d
            .get_str("order_id")
            .map_err(|e| StoreError::Other(format!("stored release is invalid: {e}")))?;
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// Marks the releases of `order_id` as done.
pub(super) async fn done(db: &Database, order_id: &str) -> Result<(), StoreError> {
    db.collection::<Document>(RELEASES)
        .update_many(
            doc! {"order_id": order_id, "done_at": {"$exists": false}},
            doc! {"$set": {"done_at": now_ms()}},
        )
        .await?;
    Ok(())
}

/// Records a failed attempt at the release of `order_id`; the next is due after `retry_in`.
pub(super) async fn failed(
    db: &Database,
    order_id: &str,
    retry_in: Duration,
) -> Result<(), StoreError> {
    let next = now_ms() + retry_in.as_millis() as i64;
    db.collection::<Document>(RELEASES)
        .update_many(
            doc! {"order_id": order_id, "done_at": {"$exists": false}},
            doc! {"$inc": {"attempts": 1_i64}, "$set": {"next_attempt_at": next}},
        )
        .await?;
    Ok(())
}
