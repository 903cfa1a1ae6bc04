//! Liveness (`/health`, the original's fields), readiness (`/ready`: database reachable, 503
//! while draining) and `GET /metrics` (Prometheus text).

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
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

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let content_type = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (content_type, state.metrics.render()).into_response()
}
