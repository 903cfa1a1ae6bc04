//! The gateway's own (non-proxied) routes, served by axum behind the same listener:
//! `/health`, `/ready`, `/metrics`, the API's description (`/openapi.json`, `/openapi.yaml`,
//! the `/docs/` page) and, with `DEV_TOOLS=true`, `/api/dev/*`.

pub mod dev;
pub mod docs;
pub mod health;

use crate::health::Upstreams;
use crate::upstream::breaker::Breaker;
use axum::routing::{get, post};
use axum::Router;
use shared::metrics::Metrics;
use shared::payload::PayloadCipher;
use shared::platform::Common;
use std::sync::Arc;

/// State of the local routes.
#[derive(Clone)]
pub struct AppState {
    /// Shared pieces (authenticator, draining flag, backends).
    pub common: Common,
    /// The upstream services' states at the last check.
    pub upstreams: Arc<Upstreams>,
    /// The `/health` answer, refreshed in the background.
    pub health: shared::health::HealthView,
    /// The gateway's payload cipher (developer tools).
    pub cipher: Arc<PayloadCipher>,
    /// Request metrics of the local routes and the proxy.
    pub metrics: Metrics,
    /// Each proxied upstream's circuit breaker, by name.
    pub breakers: Arc<[(&'static str, Arc<Breaker>)]>,
}

shared::impl_common_from_ref!(AppState, common);

/// The local routes with the standard layers (JSON 404 for every other path).
pub fn router(state: AppState, dev_tools: bool, opts: &shared::http::HttpOptions) -> Router {
    let mut router = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(docs::openapi_json))
        .route("/openapi.yaml", get(docs::openapi_yaml))
        .route("/docs", get(docs::docs_redirect))
        .route("/docs/", get(docs::docs_file))
        .route("/docs/{*file}", get(docs::docs_file));
    if dev_tools {
        router = router
            .route("/api/dev/encrypt", post(dev::encrypt))
            .route("/api/dev/decrypt", post(dev::decrypt));
    }
    let metrics = state.metrics.clone();
    shared::http::standard_layers(router.with_state(state), opts, metrics)
}
