//! `/internal/reservations` (internal token only): all-or-nothing stock reservations per order and
//! their one-time release (docs/internal-api.md). Every stock change bumps the cache generation.

use super::openapi::internal::{
    ReleasedSchema, ReservationOrderParam, ReservationRequestSchema, ReservationSchema,
    ReserveRefusals,
};
use super::wire::{reservation_json, ReserveRequest};
use crate::app::reservations;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use shared::auth::InternalCaller;
use shared::error::{created, ok};
use shared::extract::{IdPath, JsonBody};
use shared::openapi::{Answer, ErrorAnswer, InternalRefusals, InvalidId};
use shared::ApiError;

/// `POST /internal/reservations`: 201 when taken now, 200 when the order already holds it.
#[utoipa::path(
    post,
    path = "/internal/reservations",
    tag = "reservations",
    request_body = ReservationRequestSchema,
    responses(
        (status = 201, description = "Reserved now.", body = Answer<ReservationSchema>),
        (status = 200, description = "The order's reservation, already taken (stock untouched).",
            body = Answer<ReservationSchema>),
        ReserveRefusals,
        InternalRefusals,
        (status = 413, description = "`payload_too_large`.", body = ErrorAnswer),
    ),
    security(("internal" = []))
)]
pub async fn create_reservation(
    State(state): State<AppState>,
    _internal: InternalCaller,
    JsonBody(req): JsonBody<ReserveRequest>,
) -> Result<Response, ApiError> {
    let reserved = reservations::reserve(&state, &req.order_id, &req.lines).await?;
    let body = reservation_json(&reserved.reservation);
    Ok(if reserved.created {
        created(body)
    } else {
        ok(body)
    })
}

/// `POST /internal/reservations/:orderId/release`: puts the stock back once.
#[utoipa::path(
    post,
    path = "/internal/reservations/{order_id}/release",
    tag = "reservations",
    params(ReservationOrderParam),
    responses(
        (status = 200, description = "Released (now or before).", body = Answer<ReleasedSchema>),
        InvalidId,
        InternalRefusals,
        (status = 404, description = "`reservation_not_found`.", body = ErrorAnswer),
    ),
    security(("internal" = []))
)]
pub async fn release_reservation(
    State(state): State<AppState>,
    _internal: InternalCaller,
    IdPath(order_id): IdPath,
) -> Result<Response, ApiError> {
    reservations::release(&state, &order_id).await?;
    Ok(ok(json!({"orderId": order_id, "status": "released"})))
}
