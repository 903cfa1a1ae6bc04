//! The upgrade of an order database written by an earlier version, run once before the store
//! serves (`shared::mongo::upgrade`). That version named fields in camelCase and kept the events
//! of a change (and its stock release) in the order document until it moved them to the outbox
//! (`outbox` array, `dirty`, `releasePending`); what a stopped process had not moved yet is
//! moved here, then every field is renamed and the old bookkeeping removed.

use super::docs::{ORDERS, PROCESSED, RELEASES};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;
use shared::mongo::insert_new;
use shared::mongo::outbox::OUTBOX;
use shared::mongo::upgrade::{to_snake_case, Upgrade};
use shared::store::{now_ms, StoreError};

/// Upgrades of data stored by earlier versions, oldest first.
pub(super) fn upgrades() -> Vec<Upgrade> {
    vec![Upgrade {
        name: "orders_snake_case_fields",
        run: |db| Box::pin(snake_case_fields(db)),
    }]
}

async fn snake_case_fields(db: &Database) -> Result<(), StoreError> {
    move_embedded(db).await?;
    to_snake_case(
        db,
        &[ORDERS, OUTBOX, RELEASES, PROCESSED],
        |collection, mut d| {
            match collection {
                ORDERS => {
                    for old in ["outbox", "dirty", "release_pending"] {
                        d.remove(old);
                    }
                }
                OUTBOX => {
                    if let Some(Bson::Boolean(true)) = d.remove("delivered") {
                        if !d.contains_key("delivered_at") {
                            d.insert("delivered_at", now_ms());
                        }
                    }
                }
                RELEASES => {
                    if let Some(Bson::Boolean(true)) = d.remove("done") {
                        if !d.contains_key("done_at") {
                            d.insert("done_at", now_ms());
                        }
                    }
                    if let (false, Some(id)) = (d.contains_key("order_id"), d.get("_id").cloned()) {
                        d.insert("order_id", id);
                    }
                }
                _ => {}
            }
            d
        },
    )
    .await
}

/// Moves the events and stock releases left in order documents to the outbox and release queue.
async fn move_embedded(db: &Database) -> Result<(), StoreError> {
    let orders = db.collection::<Document>(ORDERS);
    let dirty: Vec<Document> = orders
        .find(doc! {"dirty": true})
        .await?
        .try_collect()
        .await?;
    for d in dirty {
        let order_id = d.get_str("_id").unwrap_or_default().to_owned();
        let embedded = d.get_array("outbox").map_or(&[][..], Vec::as_slice);
        for e in embedded.iter().filter_map(Bson::as_document) {
            let (Ok(id), Ok(at), Ok(event)) =
                (e.get_str("id"), e.get_i64("at"), e.get_str("event"))
            else {
                return Err(StoreError::Other(format!(
                    "stored event of order {order_id} is invalid: {e}"
                )));
            };
            let entry = doc! {
                "_id": id, "event": event, "created_at": at, "attempts": 0_i64,
                "next_attempt_at": at,
            };
            insert_new(&db.collection(OUTBOX), &entry).await?;
        }
        if d.get_bool("releasePending").unwrap_or(false) {
            let task = doc! {
                "_id": &order_id, "order_id": &order_id, "attempts": 0_i64,
                "next_attempt_at": now_ms(),
            };
            insert_new(&db.collection(RELEASES), &task).await?;
        }
        orders
            .update_one(
                doc! {"_id": &order_id},
                doc! {"$unset": {"outbox": "", "dirty": "", "releasePending": ""}},
            )
            .await?;
    }
    Ok(())
}
