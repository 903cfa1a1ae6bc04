//! Reservations in MongoDB without transactions: a `pending` reservation document is the claim
//! (unique `_id` = order id), each line is one conditional `$inc`, a failed line puts back what
//! was taken and drops the claim, and the final `$set` to `reserved` publishes the items.

use super::docs::ProductDoc;
use crate::domain::{merge_lines, Reservation, ReservationLine, ReservationStatus, ReservedItem};
use crate::store::{ReserveError, Reserved};
use mongodb::bson::doc;
use mongodb::options::ReturnDocument;
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use shared::store::{now_ms, StoreError};
use std::time::{Duration, Instant};

/// Stored status of a claim whose stock is still being taken (never shown outside the store).
const PENDING: &str = "pending";
/// How long a call waits for another call's `pending` claim on the same order to settle.
const SETTLE_WAIT: Duration = Duration::from_secs(5);
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// A reservation as stored in the `reservations` collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReservationDoc {
    #[serde(rename = "_id")]
    order_id: String,
    status: String,
    items: Vec<ReservedItem>,
    created_at: i64,
    updated_at: i64,
}

impl ReservationDoc {
    /// The domain reservation; `None` while pending.
    fn into_reservation(self) -> Result<Option<Reservation>, StoreError> {
        if self.status == PENDING {
            return Ok(None);
        }
        let status = ReservationStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Other(format!("unknown reservation status {:?}", self.status))
        })?;
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

/// The reservation of `order_id` once no call holds it `pending` (polled up to `SETTLE_WAIT`).
async fn settled(
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
) -> Result<Option<Reservation>, StoreError> {
    let deadline = Instant::now() + SETTLE_WAIT;
    loop {
        match reservations.find_one(doc! {"_id": order_id}).await? {
            Some(d) if d.status == PENDING => {
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
    products: &Collection<ProductDoc>,
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
    lines: &[ReservationLine],
) -> Result<Reserved, ReserveError> {
    let lines = merge_lines(lines);
    if let Some(existing) = settled(reservations, order_id).await? {
        return existing_outcome(order_id, existing);
    }
    let now = now_ms();
    let claim = ReservationDoc {
        order_id: order_id.to_string(),
        status: PENDING.to_string(),
        items: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = reservations.insert_one(&claim).await {
        if !shared::mongo::is_duplicate_key(&e) {
            return Err(StoreError::from(e).into());
        }
        // Another call claimed the order first: answer with its outcome.
        return match settled(reservations, order_id).await? {
            Some(existing) => existing_outcome(order_id, existing),
            None => Err(StoreError::Conflict(format!(
                "a concurrent reservation of order {order_id} failed"
            ))
            .into()),
        };
    }
    let taken = take_lines(products, &lines, now).await;
    let items = match taken {
        Ok(items) => items,
        Err((done, err)) => {
            put_back(products, &done, now_ms()).await?;
            reservations
                .delete_one(doc! {"_id": order_id, "status": PENDING})
                .await
                .map_err(StoreError::from)?;
            return Err(err);
        }
    };
    let items_bson = mongodb::bson::to_bson(&items).map_err(StoreError::from)?;
    reservations
        .update_one(
            doc! {"_id": order_id, "status": PENDING},
            doc! {"$set": {"status": ReservationStatus::Reserved.as_str(), "items": items_bson, "updated_at": now_ms()}},
        )
        .await
        .map_err(StoreError::from)?;
    Ok(Reserved {
        reservation: Reservation {
            order_id: order_id.to_string(),
            status: ReservationStatus::Reserved,
            items,
        },
        created: true,
    })
}

/// Takes each line with one conditional decrement; on failure returns what was taken so far.
async fn take_lines(
    products: &Collection<ProductDoc>,
    lines: &[ReservationLine],
    now: i64,
) -> Result<Vec<ReservedItem>, (Vec<ReservedItem>, ReserveError)> {
    let mut items: Vec<ReservedItem> = Vec::with_capacity(lines.len());
    for line in lines {
        let taken = products
            .find_one_and_update(
                doc! {"_id": &line.product_id, "is_active": true, "stock": {"$gte": line.quantity}},
                doc! {"$inc": {"stock": -line.quantity}, "$set": {"updated_at": now}},
            )
            .return_document(ReturnDocument::After)
            .await;
        let fail = |items: Vec<ReservedItem>, e: ReserveError| Err((items, e));
        match taken {
            Ok(Some(p)) => items.push(ReservedItem {
                product_id: line.product_id.clone(),
                name: p.name,
                price_cents: p.price_cents,
                quantity: line.quantity,
            }),
            Ok(None) => {
                let err = match products.find_one(doc! {"_id": &line.product_id}).await {
                    Ok(Some(p)) if p.is_active => ReserveError::InsufficientStock(p.name),
                    Ok(_) => ReserveError::ProductNotFound(line.product_id.clone()),
                    Err(e) => StoreError::from(e).into(),
                };
                return fail(items, err);
            }
            Err(e) => return fail(items, StoreError::from(e).into()),
        }
    }
    Ok(items)
}

/// Puts `items` back with one `$inc` each.
async fn put_back(
    products: &Collection<ProductDoc>,
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
    products: &Collection<ProductDoc>,
    reservations: &Collection<ReservationDoc>,
    order_id: &str,
) -> Result<bool, ReserveError> {
    let Some(existing) = settled(reservations, order_id).await? else {
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
