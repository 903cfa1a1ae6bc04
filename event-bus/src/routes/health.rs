//! `GET /health` (the original's fields, with real counts) and `GET /ready` (database reachable,
//! 503 while draining) and `GET /metrics`.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Liveness with the totals: `{status, service, totalEvents, pending, dead}`.
pub async fn health(State(state): State<AppState>) -> Response {
    match state.store.counts().await {
        Ok(c) => Json(json!({
            "status": "healthy",
            "service": "event-bus",
            "totalEvents": c.total_events,
            "pending": c.pending,
            "dead": c.dead,
        }))
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health counts unavailable");
            Json(json!({
                "status": "degraded",
                "service": "event-bus",
                "totalEvents": null,
                "pending": null,
                "dead": null,
            }))
            .into_response()
        }
    }
}

/// Prometheus metrics: request and delivery counters plus the store totals.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let totals = state.store.counts().await.ok();
    let content_type = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (content_type, state.metrics.render(totals)).into_response()
}

/// Readiness: the database answers and the service is not draining.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = state.store.ping().await.map_err(|e| e.to_string());
    shared::server::ready_response("event-bus", &state.common.draining, check)
}
