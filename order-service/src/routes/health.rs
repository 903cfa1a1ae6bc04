//! `GET /health` (liveness with the outbox backlog and database state), `GET /ready` (database
//! reachable, not draining)
//! and `GET /metrics` (Prometheus text with the outbox backlog as a gauge).

use crate::state::{AppState, SERVICE};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Liveness: the original's fields plus the number of undelivered events and whether the database
/// answered (`"up"`/`"down"`). Always 200: a database outage is for `/ready` to report.
pub async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    let pending = state.store.outbox().pending().await.ok();
    let database = if pending.is_some() { "up" } else { "down" };
    Json(json!({
        "status": "healthy",
        "service": SERVICE,
        "outboxPending": pending,
        "database": database,
    }))
}

/// Readiness: 503 while draining or when the database does not answer.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response(SERVICE, &state.common.draining, check).into_response()
}

/// Prometheus metrics: requests, latency, order event counters and the outbox backlog (left out
/// when the database does not answer).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let pending = state.store.outbox().pending().await.ok();
    let gauges: Vec<_> = pending
        .map(|n| {
            (
                "order_outbox_pending",
                "Outbox events not yet delivered to the bus.",
                n as f64,
            )
        })
        .into_iter()
        .collect();
    shared::metrics::exposition(state.metrics.render(&gauges))
}
