//! Liveness (`/health`, the original's body) and readiness (`/ready`: database reachable, not draining).

use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "healthy", "service": "payment-service"}))
}

/// `GET /ready`.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response("payment-service", &state.common.draining, check)
}
