//! Reservations in MongoDB without transactions. A `pending` reservation document is the claim
//! (unique `_id` = order id, plus a random claim token); each line is one conditional `$inc`
//! followed by a `$push` of the taken line into the claim, so the claim always records what it
//! holds. A failed line abandons the claim (one conditional flip) and puts back what it recorded;
//! the final `$set` to `reserved` publishes it. A claim that made no progress for `STALE_AFTER_MS`
//! (its process died) is abandoned the same way by the next call for that order.

use crate::domain::{merge_lines, Reservation, ReservationLine, ReservationStatus, ReservedItem};
use crate::store::shapes::StoredProduct;
use crate::store::{ReserveError, Reserved};
use mongodb::bson::doc;
use mongodb::options::ReturnDocument;
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use shared::store::{now_ms, parse_stored, StoreError};
use std::time::{Duration, Instant};

/// Stored status of a claim whose stock is still being taken (never shown outside the store).
const PENDING: &str = "pending";
/// Stored status of a claim being undone (its recorded lines are being put back).
const ABANDONED: &str = "abandoned";
/// A pending claim not updated for this long belongs to a call that died; it is undone.
const STALE_AFTER_MS: i64 = 30_000;
/// How long a call waits for another call's `pending` claim on the same order to settle.
const SETTLE_WAIT: Duration = Duration::from_secs(5);
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// A reservation as stored in the `reservations` collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReservationDoc {
    #[serde(rename = "_id")]
    order_id: String,
    status: String,
    /// The token of the call that holds a pending claim.
    #[serde(default)]
    claim: String,
    items: Vec<ReservedItem>,
    created_at: i64,
    updated_at: i64,
}

impl ReservationDoc {
    fn in_flight(&self) -> bool {
        self.status == PENDING || self.status == ABANDONED
    }

    /// The domain reservation; `None` while pending or abandoned.
    fn into_reservation(self) -> Result<Option<Reservation>, StoreError> {
        if self.in_flight() {
            return Ok(None);
        }
        let status = parse_stored("reservation status", &self.status)?;
        Ok(Some(Reservation {
            order_id: self.order_id,
            status,
            items: self.items,
        }))
    }
}

/// The reservation of `order_id`, if any (a pending claim counts as none, as an uncommitted
/// SQLite transaction would).
pub(super) async fn load(
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
) -> Result<Option<Reservation>, StoreError> {
    match reservations.find_one(doc! {"_id": order_id}).await? {
        Some(d) => d.into_reservation(),
        None => Ok(None),
    }
}

/// The reservation of `order_id` once no call holds it in flight (polled up to `SETTLE_WAIT`);
/// a stale pending claim is abandoned on the way.
async fn settled(
    products: &Collection<StoredProduct>,
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
) -> Result<Option<Reservation>, StoreError> {
    let deadline = Instant::now() + SETTLE_WAIT;
    loop {
        match reservations.find_one(doc! {"_id": order_id}).await? {
            Some(d) if d.in_flight() => {
                let stale = d.status == PENDING && d.updated_at < now_ms() - STALE_AFTER_MS;
                if stale && abandon(products, reservations, order_id, &d.claim, true).await? {
                    continue;
                }
                if Instant::now() >= deadline {
                    return Err(StoreError::Unavailable(format!(
                        "the reservation of order {order_id} is still being taken"
                    )));
                }
                tokio::time::sleep(SETTLE_POLL).await;
            }
            Some(d) => return d.into_reservation(),
            None => return Ok(None),
        }
    }
}

/// Undoes the pending claim `claim` (only if stale when `only_stale`): flips it to abandoned
/// (one conditional update, so one caller wins), puts back the lines it recorded, deletes it.
/// False when the claim was no longer pending (or not stale).
async fn abandon(
    products: &Collection<StoredProduct>,
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
    claim: &str,
    only_stale: bool,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let mut filter = doc! {"_id": order_id, "claim": claim, "status": PENDING};
    if only_stale {
        filter.insert("updated_at", doc! {"$lt": now - STALE_AFTER_MS});
    }
    let Some(held) = reservations
        .find_one_and_update(
            filter,
            doc! {"$set": {"status": ABANDONED, "updated_at": now}},
        )
        .await?
    else {
        return Ok(false);
    };
    put_back(products, &held.items, now).await?;
    reservations
        .delete_one(doc! {"_id": order_id, "claim": claim, "status": ABANDONED})
        .await?;
    Ok(true)
}

fn existing_outcome(order_id: &str, existing: Reservation) -> Result<Reserved, ReserveError> {
    match existing.status {
        ReservationStatus::Reserved => Ok(Reserved {
            reservation: existing,
            created: false,
        }),
        ReservationStatus::Released => Err(ReserveError::Released(order_id.to_string())),
    }
}

pub(super) async fn reserve(
    products: &Collection<StoredProduct>,
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
    lines: &[ReservationLine],
) -> Result<Reserved, ReserveError> {
    let lines = merge_lines(lines);
    if let Some(existing) = settled(products, reservations, order_id).await? {
        return existing_outcome(order_id, existing);
    }
    let now = now_ms();
    let claim = shared::ids::new_object_id();
    let pending = ReservationDoc {
        order_id: order_id.to_string(),
        status: PENDING.to_string(),
        claim: claim.clone(),
        items: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = reservations.insert_one(&pending).await {
        if !shared::mongo::is_duplicate_key(&e) {
            return Err(StoreError::from(e).into());
        }
        // Another call claimed the order first: answer with its outcome.
        return match settled(products, reservations, order_id).await? {
            Some(existing) => existing_outcome(order_id, existing),
            None => Err(StoreError::Conflict(format!(
                "a concurrent reservation of order {order_id} failed"
            ))
            .into()),
        };
    }
    let held = doc! {"_id": order_id, "claim": &claim, "status": PENDING};
    let mut items = Vec::with_capacity(lines.len());
    for line in &lines {
        let item = match take_line(products, line, now).await {
            Ok(item) => item,
            Err(e) => {
                abandon(products, reservations, order_id, &claim, false).await?;
                return Err(e);
            }
        };
        let item_bson = mongodb::bson::to_bson(&item).map_err(StoreError::from)?;
        let recorded = reservations
            .update_one(
                held.clone(),
                doc! {"$push": {"items": item_bson}, "$set": {"updated_at": now_ms()}},
            )
            .await
            .map_err(StoreError::from)?;
        if recorded.matched_count == 0 {
            // Our claim was abandoned as stale: what it recorded is being put back; this is not.
            put_back(products, std::slice::from_ref(&item), now_ms()).await?;
            return Err(lost_claim(order_id).into());
        }
        items.push(item);
    }
    let published = reservations
        .update_one(
            held,
            doc! {"$set": {"status": ReservationStatus::Reserved.as_str(), "updated_at": now_ms()}},
        )
        .await
        .map_err(StoreError::from)?;
    if published.matched_count == 0 {
        return Err(lost_claim(order_id).into());
    }
    Ok(Reserved::made(order_id, items))
}

fn lost_claim(order_id: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "the reservation of order {order_id} stalled and was undone; retry"
    ))
}

/// Takes one line with a conditional decrement of an active product with enough stock.
async fn take_line(
    products: &Collection<StoredProduct>,
    line: &ReservationLine,
    now: i64,
) -> Result<ReservedItem, ReserveError> {
    let taken = products
        .find_one_and_update(
            doc! {"_id": &line.product_id, "is_active": true, "stock": {"$gte": line.quantity}},
            doc! {"$inc": {"stock": -line.quantity}, "$set": {"updated_at": now}},
        )
        .return_document(ReturnDocument::After)
        .await
        .map_err(StoreError::from)?;
    if let Some(p) = taken {
        return Ok(ReservedItem {
            product_id: line.product_id.clone(),
            name: p.name,
            price_cents: p.price_cents,
            quantity: line.quantity,
        });
    }
    let found = products
        .find_one(doc! {"_id": &line.product_id})
        .await
        .map_err(StoreError::from)?;
    Err(match found {
        Some(p) if p.is_active => ReserveError::InsufficientStock(p.name),
        _ => ReserveError::ProductNotFound(line.product_id.clone()),
    })
}

/// Puts `items` back with one `$inc` each.
async fn put_back(
    products: &Collection<StoredProduct>,
    items: &[ReservedItem],
    now: i64,
) -> Result<(), StoreError> {
    for item in items {
        products
            .update_one(
                doc! {"_id": &item.product_id},
                doc! {"$inc": {"stock": item.quantity}, "$set": {"updated_at": now}},
            )
            .await?;
    }
    Ok(())
}

pub(super) async fn release(
    products: &Collection<StoredProduct>,
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
) -> Result<bool, ReserveError> {
    let Some(existing) = settled(products, reservations, order_id).await? else {
        return Err(ReserveError::ReservationNotFound(order_id.to_string()));
    };
    if existing.status == ReservationStatus::Released {
        return Ok(false);
    }
    let now = now_ms();
    // The status flip is the claim: only the call that flips it puts the stock back.
    let claimed = reservations
        .find_one_and_update(
            doc! {"_id": order_id, "status": ReservationStatus::Reserved.as_str()},
            doc! {"$set": {"status": ReservationStatus::Released.as_str(), "updated_at": now}},
        )
        .await
        .map_err(StoreError::from)?;
    match claimed {
        Some(doc) => {
            put_back(products, &doc.items, now).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}
