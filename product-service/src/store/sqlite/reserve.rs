//! Reservations in SQLite. Each line is one conditional decrement (`stock >= qty` on an active
//! product); the whole reservation runs in one `BEGIN IMMEDIATE` transaction (one
//! `Database::write`), so a failed line rolls back (puts back) the lines already taken and
//! concurrent writers queue instead of racing.

use crate::domain::{merge_lines, Reservation, ReservationLine, ReservationStatus, ReservedItem};
use crate::store::{ReserveError, Reserved};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use shared::sqlite::Database;
use shared::store::{now_ms, parse_stored, StoreError};

/// The reservation of `order_id`, if any.
pub(super) fn load(conn: &Connection, order_id: &str) -> Result<Option<Reservation>, StoreError> {
    let Some((status, items)) = conn
        .prepare_cached("SELECT status, items FROM reservations WHERE order_id = ?")?
        .query_row([order_id], |row| {
            Ok((
                row.get::<_, String>("status")?,
                row.get::<_, String>("items")?,
            ))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let status = parse_stored("reservation status", &status)?;
    Ok(Some(Reservation {
        order_id: order_id.to_string(),
        status,
        items: serde_json::from_str(&items)?,
    }))
}

pub(super) async fn reserve(
    db: &Database,
    order_id: &str,
    lines: &[ReservationLine],
) -> Result<Reserved, ReserveError> {
    let lines = merge_lines(lines);
    let order_id = order_id.to_owned();
    db.write_or_refuse(move |tx| reserve_in(tx, &order_id, &lines))
        .await
}

/// The body of `reserve`'s transaction: an existing reservation is returned untouched; otherwise
/// every line is taken, then the reservation recorded.
fn reserve_in(
    tx: &Transaction<'_>,
    order_id: &str,
    lines: &[ReservationLine],
) -> Result<Reserved, ReserveError> {
    if let Some(existing) = load(tx, order_id)? {
        return match existing.status {
            ReservationStatus::Reserved => Ok(Reserved {
                reservation: existing,
                created: false,
            }),
            ReservationStatus::Released => Err(ReserveError::Released(order_id.to_string())),
        };
    }
    let now = now_ms();
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        items.push(take(tx, line, now)?);
    }
    tx.prepare_cached(
        "INSERT INTO reservations (order_id, status, items, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?)",
    )?
    .execute(params![
        order_id,
        ReservationStatus::Reserved.as_str(),
        serde_json::to_string(&items).map_err(StoreError::from)?,
        now,
        now,
    ])?;
    Ok(Reserved::made(order_id, items))
}

/// Takes one line's stock (a conditional decrement) and names what was taken; an unknown or
/// inactive product, or too little stock, refuses the line.
fn take(
    tx: &Transaction<'_>,
    line: &ReservationLine,
    now: i64,
) -> Result<ReservedItem, ReserveError> {
    let taken = tx
        .prepare_cached(
            "UPDATE products SET stock = stock - ?, updated_at = ? \
             WHERE _id = ? AND is_active = 1 AND stock >= ?",
        )?
        .execute(params![line.quantity, now, line.product_id, line.quantity])?
        == 1;
    let product = tx
        .prepare_cached("SELECT name, price_cents, is_active FROM products WHERE _id = ?")?
        .query_row([&line.product_id], |row| {
            Ok((
                row.get::<_, String>("name")?,
                row.get::<_, i64>("price_cents")?,
                row.get::<_, bool>("is_active")?,
            ))
        })
        .optional()?;
    let Some((name, price_cents, true)) = product else {
        return Err(ReserveError::ProductNotFound(line.product_id.clone()));
    };
    if !taken {
        return Err(ReserveError::InsufficientStock(name));
    }
    Ok(ReservedItem {
        product_id: line.product_id.clone(),
        name,
        price_cents,
        quantity: line.quantity,
    })
}

pub(super) async fn release(db: &Database, order_id: &str) -> Result<bool, ReserveError> {
    let order_id = order_id.to_owned();
    db.write_or_refuse(move |tx| release_in(tx, &order_id))
        .await
}

/// The body of `release`'s transaction.
fn release_in(tx: &Transaction<'_>, order_id: &str) -> Result<bool, ReserveError> {
    let Some(existing) = load(tx, order_id)? else {
        return Err(ReserveError::ReservationNotFound(order_id.to_string()));
    };
    let now = now_ms();
    // The status flip is the claim: only the call that flips it puts the stock back.
    let claimed =
        tx.prepare_cached(
            "UPDATE reservations SET status = ?, updated_at = ? \
             WHERE order_id = ? AND status = ?",
        )?
        .execute(params![
            ReservationStatus::Released.as_str(),
            now,
            order_id,
            ReservationStatus::Reserved.as_str(),
        ])? == 1;
    if !claimed {
        return Ok(false);
    }
    let mut put_back =
        tx.prepare_cached("UPDATE products SET stock = stock + ?, updated_at = ? WHERE _id = ?")?;
    for item in &existing.items {
        put_back.execute(params![item.quantity, now, item.product_id])?;
    }
    Ok(true)
}
