//! `GET /health` (liveness, with the state of every upstream; always 200) and `GET /ready`
//! (503 while draining or while a proxied upstream did not answer its /health at the last check),
//! both from the states the background refresh keeps (no upstream call per request); `GET /metrics`,
//! which needs the internal token: the gateway's port is the public one.

use super::AppState;
use axum::extract::State;
use axum::response::Response;
use shared::auth::InternalCaller;
use shared::metrics::Gauge;

/// The view the background refresh keeps: every upstream's state and Redis's.
pub async fn health(State(state): State<AppState>) -> Response {
    state.health.response()
}

/// Ready when not draining and every proxied upstream was up at the last check.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = if state.common.draining.is_draining() {
        Ok(())
    } else {
        state.upstreams.ready()
    };
    shared::server::ready_response(crate::SERVICE, &state.common.draining, check)
}

/// Prometheus text: requests by route and status (proxied ones by prefix), latency histograms,
/// each upstream's circuit breaker state and the requests it refused. Only for a caller with the
/// internal token (a scraper): clients reach this port, and the figures are not theirs to read.
pub async fn metrics(State(state): State<AppState>, _scraper: InternalCaller) -> Response {
    let labels: Vec<[(&str, &str); 1]> = state
        .breakers
        .iter()
        .map(|(name, _)| [("upstream", *name)])
        .collect();
    let gauges: Vec<Gauge<'_>> = state
        .breakers
        .iter()
        .zip(&labels)
        .map(|((_, breaker), labels)| Gauge {
            name: "gateway_upstream_breaker_state",
            help: "Circuit breaker of each upstream: 0 closed, 1 open, 2 half-open (probing).",
            labels,
            value: breaker.state().gauge(),
        })
        .collect();
    shared::metrics::exposition(state.metrics.render(&gauges))
}
