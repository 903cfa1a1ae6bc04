//! Stock reservations for orders (internal): taken all-or-nothing once per order, released once.
//! Every stock change invalidates the cached reads; every call is counted by outcome.

use crate::domain::ReservationLine;
use crate::state::AppState;
use crate::store::Reserved;
use shared::ApiError;

/// Takes the stock of `lines` for `order_id`, or finds the reservation the order already holds.
pub async fn reserve(
    state: &AppState,
    order_id: &str,
    lines: &[ReservationLine],
) -> Result<Reserved, ApiError> {
    let reserved = match state.store.reserve(order_id, lines).await {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::from(e);
            record(state, e.code);
            return Err(e);
        }
    };
    record(
        state,
        if reserved.created {
            "reserved"
        } else {
            "repeated"
        },
    );
    if reserved.created {
        state.cache.invalidate().await;
    }
    Ok(reserved)
}

/// Puts the stock of `order_id`'s reservation back, once; a second release changes nothing.
pub async fn release(state: &AppState, order_id: &str) -> Result<(), ApiError> {
    if state.store.release(order_id).await? {
        record(state, "released");
        state.cache.invalidate().await;
    }
    Ok(())
}

/// Counts a reservation call by outcome (`reserved`, `repeated`, `released`, or the error code).
fn record(state: &AppState, outcome: &str) {
    state.metrics.incr(
        "product_reservations_total",
        "Reservation calls by outcome.",
        &[("outcome", outcome)],
    );
}
