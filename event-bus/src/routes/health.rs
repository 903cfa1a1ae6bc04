//! `GET /health` (the original's fields, with real counts) and `GET /ready` (database reachable,
//! 503 while draining) and `GET /metrics`.

use crate::state::AppState;
use crate::store::EventStore;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// Liveness with the totals: `{status, service, database, totalEvents, pending, dead}`, from the
/// view refreshed in the background (no database call). Always 200.
pub async fn health(State(state): State<AppState>) -> Response {
    state.health.response()
}

/// The `/health` answer; a database that does not answer makes it `degraded` with
/// `database: "unavailable"` and null totals.
pub async fn report(store: Arc<dyn EventStore>) -> Value {
    match tokio::time::timeout(shared::health::PROBE_WAIT, store.counts()).await {
        Ok(Ok(c)) => json!({
            "status": "healthy",
            "service": crate::SERVICE,
            "database": "up",
            "totalEvents": c.total_events,
            "pending": c.pending,
            "dead": c.dead,
        }),
        failed => {
            if let Ok(Err(e)) = failed {
                tracing::error!(error = %e, "health counts unavailable");
            }
            json!({
                "status": "degraded",
                "service": crate::SERVICE,
                "database": "unavailable",
                "totalEvents": null,
                "pending": null,
                "dead": null,
            })
        }
    }
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
