//! `GET /health` (liveness, with the state of every upstream; always 200) and `GET /ready`
//! (503 while draining or while a proxied upstream does not answer its /health), `GET /metrics`.

use super::AppState;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Map, Value};

/// Every upstream's health, checked concurrently with a short timeout.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let results = state.upstreams.check_all().await;
    let all_up = results.iter().all(|(_, up)| *up);
    let services: Map<String, Value> = results
        .into_iter()
        .map(|(name, up)| (name.to_string(), json!(if up { "up" } else { "down" })))
        .collect();
    let redis = match &state.redis {
        Some(redis) => redis.status().await,
        None => "not configured",
    };
    Json(json!({
        "status": if all_up { "healthy" } else { "degraded" },
        "service": "api-gateway",
        "services": services,
        "redis": redis,
    }))
}

/// Ready when not draining and every proxied upstream answers (answer cached about 1 s).
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = if state.common.draining.is_draining() {
        Ok(())
    } else {
        state.upstreams.ready().await
    };
    shared::server::ready_response("api-gateway", &state.common.draining, check)
}

/// Prometheus text: requests by route and status (proxied ones by prefix), latency histograms.
pub async fn metrics(State(state): State<AppState>) -> Response {
    shared::metrics::exposition(state.metrics.render(&[]))
}
