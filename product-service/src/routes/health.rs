//! Liveness (`/health`, the original's fields), readiness (`/ready`: database reachable, 503
//! while draining) and `GET /metrics` (Prometheus text).

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `GET /health`.
pub async fn health() -> Response {
    Json(json!({"status": "healthy", "service": crate::SERVICE_NAME})).into_response()
}

/// `GET /ready`.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response(crate::SERVICE_NAME, &state.common.draining, check)
}

/// `GET /metrics`: request counts, latency histograms, reservation outcomes and cache lookups.
pub async fn metrics(State(state): State<AppState>) -> Response {
    shared::metrics::exposition(state.metrics.render(&[]))
}
