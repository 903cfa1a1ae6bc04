//! Liveness (`/health`: `shared::health`'s shape, `database` up or down), readiness (`/ready`)
//! and the internal session-status call other services make.

use crate::app::sessions::StoredSessions;
use crate::error::Error;
use crate::state::AppState;
use crate::store::UserStore;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Value};
use shared::auth::InternalCaller;
use shared::error::ok;
use shared::sessions::SessionAuthority;
use shared::ApiError;
use std::sync::Arc;

/// `GET /health`: always 200, from the view refreshed in the background (no database call).
pub async fn health(State(state): State<AppState>) -> Response {
    state.health.response()
}

/// The `/health` answer: whether the database answers.
pub async fn report(store: Arc<dyn UserStore>) -> Value {
    shared::health::database_report(crate::SERVICE, store.ping()).await
}

/// `GET /ready`: 503 while draining or when the database does not answer.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response(crate::SERVICE, &state.common.draining, check)
}

/// `GET /metrics`: request counts, latency histograms and the auth outcome counters.
pub async fn metrics(State(state): State<AppState>) -> Response {
    shared::metrics::exposition(state.metrics.render(&[]))
}

/// `GET /internal/sessions/:sid`: `{sid, revoked}`; an unknown sid counts as revoked.
#[utoipa::path(
    get,
    path = "/internal/sessions/{sid}",
    tag = "sessions",
    params(("sid" = String, Path, description = "The session id (the access token's `sid`).")),
    responses(
        (status = 200, description = "Whether it is live.",
            body = shared::openapi::Answer<super::openapi::internal::SessionStatusSchema>),
        (status = 400, description = "`invalid_id`.", body = shared::openapi::ErrorAnswer),
        shared::openapi::InternalRefusals,
    ),
    security(("internal" = []))
)]
pub async fn session_status(
    State(state): State<AppState>,
    _caller: InternalCaller,
    sid: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let Path(sid) = sid.map_err(|_| ApiError::bad_request("invalid_id", "Invalid session id"))?;
    let live = StoredSessions(state.store.clone()).is_live(&sid).await?;
    Ok(ok(json!({ "sid": sid, "revoked": !live })))
}
