//! Liveness (`/health`, the original's body), readiness (`/ready`: database reachable, not
//! draining) and Prometheus metrics (`/metrics`).

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "healthy", "service": crate::SERVICE}))
}

/// `GET /ready`.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response(crate::SERVICE, &state.common.draining, check)
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let pending = state.store.outbox().pending().await.ok();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(pending),
    )
        .into_response()
}
