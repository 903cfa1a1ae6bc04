//! `GET /health` (liveness with the outbox backlog) and `GET /ready` (database reachable, not draining).

use crate::state::{AppState, SERVICE};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Liveness: the original's fields plus the number of undelivered events.
pub async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let pending = state.store.outbox().pending().await.ok();
    Json(json!({"status": "healthy", "service": SERVICE, "outboxPending": pending}))
}

/// Readiness: 503 while draining or when the database does not answer.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response(SERVICE, &state.common.draining, check).into_response()
}
