//! `GET /health` (the original's fields, with real counts) and `GET /ready` (database reachable,
//! 503 while draining) and `GET /metrics`.

use crate::state::AppState;
use crate::store::EventStore;
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// Liveness with the totals: `{status, service, database, totalEvents, pending, dead}`, from the
/// view refreshed in the background (no database call). Always 200.
pub async fn health(State(state): State<AppState>) -> Response {
    state.health.response()
}

/// The `/health` answer (`shared::health`'s shape) with the totals; a database that does not
/// answer makes it `degraded` with `database: "down"` and null totals.
pub async fn report(store: Arc<dyn EventStore>) -> Value {
    let counts = match tokio::time::timeout(shared::health::PROBE_WAIT, store.counts()).await {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health counts unavailable");
            None
        }
        Err(_) => None,
    };
    shared::health::Report::new(crate::SERVICE)
        .dependency("database", counts.is_some())
        .field("totalEvents", counts.as_ref().map(|c| c.total_events))
        .field("pending", counts.as_ref().map(|c| c.pending))
        .field("dead", counts.as_ref().map(|c| c.dead))
        .into_json()
}

/// Prometheus metrics: request and delivery counters plus the store totals as gauges (left out
/// when the database does not answer).
pub async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = match state.store.counts().await {
        Ok(c) => vec![
            shared::metrics::Gauge::new(
                "event_bus_events",
                "Events stored.",
                c.total_events as f64,
            ),
            shared::metrics::Gauge::new(
                "event_bus_deliveries_pending",
                "Deliveries not yet acknowledged.",
                c.pending as f64,
            ),
            shared::metrics::Gauge::new(
                "event_bus_deliveries_dead",
                "Dead-lettered deliveries.",
                c.dead as f64,
            ),
        ],
        Err(e) => {
            tracing::warn!(error = %e, "metrics totals unavailable");
            Vec::new()
        }
    };
    shared::metrics::exposition(state.metrics.render(&gauges))
}

/// Readiness: the database answers and the service is not draining.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response(crate::SERVICE, &state.common.draining, check)
}
