//! `GET /health` (liveness with the outbox backlog and database state), `GET /ready` (database
//! reachable, not draining)
//! and `GET /metrics` (Prometheus text with the outbox backlog as a gauge).

use crate::state::AppState;
use crate::store::OrderStore;
use crate::SERVICE;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::Arc;

/// Liveness, from the view refreshed in the background (no database call). Always 200: a database
/// outage is for `/ready` to report.
pub async fn health(State(state): State<AppState>) -> Response {
    state.health.response()
}

/// The `/health` answer (`shared::health`'s shape): whether the database answered (`up`/`down`)
/// and the number of undelivered events (null when it did not).
pub async fn report(store: Arc<dyn OrderStore>) -> Value {
    let outbox = store.outbox();
    let pending = tokio::time::timeout(shared::health::PROBE_WAIT, outbox.pending())
        .await
        .ok()
        .and_then(Result::ok);
    shared::health::Report::new(SERVICE)
        .dependency("database", pending.is_some())
        .field("outboxPending", pending)
        .into_json()
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
            shared::metrics::Gauge::new(
                "order_outbox_pending",
                "Outbox events not yet delivered to the bus.",
                n as f64,
            )
        })
        .into_iter()
        .collect();
    shared::metrics::exposition(state.metrics.render(&gauges))
}
