//! Liveness (`/health`, the original's fields plus the database state), readiness (`/ready`: database reachable, 503
//! while draining) and `GET /metrics` (Prometheus text).

use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::time::Duration;

/// How long `/health` waits for the database before reporting it `down`.
const HEALTH_DB_WAIT: Duration = Duration::from_millis(1000);

/// `GET /health`: always 200 while the process serves; `database` says whether the store
/// answered a ping within `HEALTH_DB_WAIT` (`up`) or not (`down`).
pub async fn health(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(HEALTH_DB_WAIT, state.store.ping()).await {
        Ok(Ok(())) => "up",
        _ => "down",
    };
    Json(json!({"status": "healthy", "service": crate::SERVICE_NAME, "database": database}))
        .into_response()
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
