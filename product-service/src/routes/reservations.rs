//! `/internal/reservations` (internal token only): all-or-nothing stock reservations per order and
//! their one-time release (docs/internal-api.md). Every stock change bumps the cache generation.

use crate::domain::{Reservation, ReservationLine};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use shared::auth::InternalCaller;
use shared::error::{created, ok};
use shared::extract::{BodyLimits, FromJson, IdPath, JsonBody};
use shared::money::cents_to_json;
use shared::validate::Validator;
use shared::ApiError;

/// Largest quantity of one line.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// `{orderId, items: [{productId, quantity}]}`.
pub struct ReserveRequest {
    /// The order the stock is for.
    pub order_id: String,
    /// Requested lines (duplicates allowed; the store sums them).
    pub lines: Vec<ReservationLine>,
}

impl FromJson for ReserveRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let order_id = v.object_id("orderId");
        let mut lines = Vec::new();
        if let Some(items) = v.array("items", 1, 100) {
            for (i, item) in items.iter().enumerate() {
                let path = format!("items.{i}");
                let Some(obj) = item.as_object() else {
                    v.error_at(path, "must be of type object");
                    continue;
                };
                let mut line = Validator::nested(obj, &path);
                let product_id = line.object_id("productId");
                let quantity = line.int("quantity", 1, MAX_QUANTITY);
                v.extend(line.finish_nested());
                if let (Some(product_id), Some(quantity)) = (product_id, quantity) {
                    lines.push(ReservationLine {
                        product_id,
                        quantity,
                    });
                }
            }
        }
        v.finish()?;
        Ok(Self {
            order_id: order_id.unwrap_or_default(),
            lines,
        })
    }
}

fn reservation_json(r: &Reservation) -> Value {
    let items: Vec<Value> = r
        .items
        .iter()
        .map(|i| {
            json!({
                "productId": i.product_id,
                "name": i.name,
                "price": cents_to_json(i.price_cents),
                "quantity": i.quantity,
            })
        })
        .collect();
    json!({"orderId": r.order_id, "status": r.status.as_str(), "items": items})
}

/// `POST /internal/reservations`: 201 when taken now, 200 when the order already holds it.
pub async fn create_reservation(
    State(state): State<AppState>,
    _internal: InternalCaller,
    JsonBody(req): JsonBody<ReserveRequest>,
) -> Result<Response, ApiError> {
    let reserved = match state.store.reserve(&req.order_id, &req.lines).await {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::from(e);
            record_reservation(&state, e.code);
            return Err(e);
        }
    };
    let outcome = if reserved.created {
        "reserved"
    } else {
        "repeated"
    };
    record_reservation(&state, outcome);
    if reserved.created {
        state.cache.invalidate().await;
        Ok(created(reservation_json(&reserved.reservation)))
    } else {
        Ok(ok(reservation_json(&reserved.reservation)))
    }
}

/// `POST /internal/reservations/:orderId/release`: puts the stock back once.
pub async fn release_reservation(
    State(state): State<AppState>,
    _internal: InternalCaller,
    IdPath(order_id): IdPath,
) -> Result<Response, ApiError> {
    if state.store.release(&order_id).await? {
        record_reservation(&state, "released");
        state.cache.invalidate().await;
    }
    Ok(ok(json!({"orderId": order_id, "status": "released"})))
}

/// Counts a reservation call by outcome (`reserved`, `repeated`, `released`, or the error code).
fn record_reservation(state: &AppState, outcome: &str) {
    state.metrics.incr(
        "product_reservations_total",
        "Reservation calls by outcome.",
        &[("outcome", outcome)],
    );
}
