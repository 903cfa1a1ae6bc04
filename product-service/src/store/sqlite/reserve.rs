//! Reservations in SQLite. Each line is one conditional decrement (`stock >= qty` on an active
//! product); the whole reservation runs in one `BEGIN IMMEDIATE` transaction, so a failed line
//! rolls back (puts back) the lines already taken and concurrent writers queue instead of racing.

use crate::domain::{merge_lines, Reservation, ReservationLine, ReservationStatus, ReservedItem};
use crate::store::{ReserveError, Reserved};
use shared::sqlite::SqlitePool;
use shared::store::{now_ms, StoreError};
use sqlx::{Row, SqliteConnection};

/// The reservation of `order_id`, if any.
pub(super) async fn load(
    conn: &mut SqliteConnection,
    order_id: &str,
) -> Result<Option<Reservation>, StoreError> {
    let Some(row) = sqlx::query("SELECT status, items FROM reservations WHERE order_id = ?")
        .bind(order_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let items: String = row.try_get("items")?;
    let status = ReservationStatus::parse(&status)
        .ok_or_else(|| StoreError::Other(format!("unknown reservation status {status:?}")))?;
    Ok(Some(Reservation {
        order_id: order_id.to_string(),
        status,
        items: serde_json::from_str(&items)?,
    }))
}

pub(super) async fn reserve(
    pool: &SqlitePool,
    order_id: &str,
    lines: &[ReservationLine],
) -> Result<Reserved, ReserveError> {
    let lines = merge_lines(lines);
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    if let Some(existing) = load(&mut tx, order_id).await? {
        tx.rollback().await?;
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
    for line in &lines {
        let taken = sqlx::query(
            "UPDATE products SET stock = stock - ?, updated_at = ? \
             WHERE _id = ? AND is_active = 1 AND stock >= ?",
        )
        .bind(line.quantity)
        .bind(now)
        .bind(&line.product_id)
        .bind(line.quantity)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query("SELECT name, price_cents, is_active FROM products WHERE _id = ?")
            .bind(&line.product_id)
            .fetch_optional(&mut *tx)
            .await?;
        let active = match &row {
            Some(r) => r.try_get::<bool, _>("is_active")?,
            None => false,
        };
        let (Some(row), true) = (row, active) else {
            tx.rollback().await?;
            return Err(ReserveError::ProductNotFound(line.product_id.clone()));
        };
        let name: String = row.try_get("name")?;
        if !taken {
            tx.rollback().await?;
            return Err(ReserveError::InsufficientStock(name));
        }
        items.push(ReservedItem {
            product_id: line.product_id.clone(),
            name,
            price_cents: row.try_get("price_cents")?,
            quantity: line.quantity,
        });
    }
    sqlx::query(
        "INSERT INTO reservations (order_id, status, items, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(order_id)
    .bind(ReservationStatus::Reserved.as_str())
    .bind(serde_json::to_string(&items).map_err(StoreError::from)?)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Reserved {
        reservation: Reservation {
            order_id: order_id.to_string(),
            status: ReservationStatus::Reserved,
            items,
        },
        created: true,
    })
}

pub(super) async fn release(pool: &SqlitePool, order_id: &str) -> Result<bool, ReserveError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let Some(existing) = load(&mut tx, order_id).await? else {
        tx.rollback().await?;
        return Err(ReserveError::ReservationNotFound(order_id.to_string()));
    };
    let now = now_ms();
    // The status flip is the claim: only the call that flips it puts the stock back.
    let claimed = sqlx::query(
        "UPDATE reservations SET status = ?, updated_at = ? WHERE order_id = ? AND status = ?",
    )
    .bind(ReservationStatus::Released.as_str())
    .bind(now)
    .bind(order_id)
    .bind(ReservationStatus::Reserved.as_str())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        tx.rollback().await?;
        return Ok(false);
    }
    for item in &existing.items {
        sqlx::query("UPDATE products SET stock = stock + ?, updated_at = ? WHERE _id = ?")
            .bind(item.quantity)
            .bind(now)
            .bind(&item.product_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}
