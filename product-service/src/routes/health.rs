//! Liveness (`/health`: `shared::health`'s shape, `database` up or down), readiness (`/ready`:
//! database reachable, 503 while draining) and `GET /metrics` (Prometheus text).

use crate::state::AppState;
use crate::store::ProductStore;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// `GET /health`: always 200 while the process serves, from the view refreshed in the background
/// (no database call).
pub async fn health(State(state): State<AppState>) -> Response {
    state.health.response()
}

/// The `/health` answer: `database` says whether the store answered a ping (`up`) or not (`down`).
pub async fn report(store: Arc<dyn ProductStore>) -> Value {
    shared::health::database_report(crate::SERVICE, store.ping()).await
}

/// `GET /ready`.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response(crate::SERVICE, &state.common.draining, check)
}

/// `GET /metrics`: request counts, latency histograms, reservation outcomes and cache lookups.
pub async fn metrics(State(state): State<AppState>) -> Response {
    shared::metrics::exposition(state.metrics.render(&[]))
}
