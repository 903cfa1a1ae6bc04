//! Liveness (`/health`: `shared::health`'s shape, `database` up or down), readiness (`/ready`:
//! database reachable, not draining) and Prometheus metrics (`/metrics`).

use crate::state::AppState;
use crate::store::PaymentStore;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// `GET /health`: always 200 while the process runs (liveness), from the view refreshed in the
/// background (no database call); the database state is reported, not acted on (that is `/ready`).
pub async fn health(State(state): State<AppState>) -> Response {
    state.health.response()
}

/// The `/health` answer: whether the database answers.
pub async fn report(store: Arc<dyn PaymentStore>) -> Value {
    shared::health::database_report(crate::SERVICE, store.ping()).await
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
            shared::metrics::Gauge::new(
                "payment_outbox_pending",
                "Events not yet acknowledged by the bus.",
                n as f64,
            )
        })
        .into_iter()
        .collect();
    shared::metrics::exposition(state.metrics.render(&gauges))
}
