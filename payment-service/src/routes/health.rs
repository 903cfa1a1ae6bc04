//! Liveness (`/health`, the original's body), readiness (`/ready`: database reachable, not
//! draining) and Prometheus metrics (`/metrics`).

use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
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
    let gauges: Vec<shared::metrics::Gauge<'_>> = pending
        .map(|n| {
            (
                "payment_outbox_pending",
                "Events not yet acknowledged by the bus.",
                n as f64,
            )
        })
        .into_iter()
        .collect();
    shared::metrics::exposition(state.metrics.render(&gauges))
}
