//! The operations side every service shares: `GET /health`, `/ready` and `/metrics`, answered
//! from what the service's handler state tells through [`Operations`], and the finishing of a
//! service's router around its own routes ([`service_router`]).

use crate::health::HealthView;
use crate::http::{standard_layers, HttpOptions};
use crate::metrics::{Gauge, Metrics};
use crate::shutdown::Draining;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::future::Future;

/// What a service's operations routes read from its handler state.
pub trait Operations: Clone + Send + Sync + 'static {
    /// The service's name in its `/ready` answers.
    const SERVICE: &'static str;

    /// The `/health` answer, refreshed in the background (no database call per request).
    fn health(&self) -> &HealthView;

    /// Set once the service drains; `/ready` answers 503 from then on.
    fn draining(&self) -> &Draining;

    /// Request and business metrics.
    fn metrics(&self) -> &Metrics;

    /// Whether the database answers, for `/ready`.
    fn ping(&self) -> impl Future<Output = Result<(), String>> + Send;

    /// Gauges read when `/metrics` is asked (none unless the service says so); a gauge whose
    /// source does not answer is left out.
    fn gauges(&self) -> impl Future<Output = Vec<Gauge<'static>>> + Send {
        std::future::ready(Vec::new())
    }
}

/// `GET /health`: always 200 while the process serves, from the view refreshed in the background.
async fn health<S: Operations>(State(state): State<S>) -> Response {
    state.health().response()
}

/// `GET /ready`: 503 while draining or when the database does not answer.
async fn ready<S: Operations>(State(state): State<S>) -> Response {
    let check = state.ping().await;
    crate::server::ready_response(S::SERVICE, state.draining(), check)
}

/// `GET /metrics`: request counts, latency histograms, the service's counters and gauges, the
/// process's figures (Prometheus text).
async fn metrics<S: Operations>(State(state): State<S>) -> Response {
    let gauges = state.gauges().await;
    crate::metrics::exposition(state.metrics().render(&gauges))
}

/// A service's whole router: its own `routes`, the operations routes, every request counted by
/// its matched route ([`crate::metrics::track`]), the state, and the standard layers.
pub fn service_router<S: Operations>(routes: Router<S>, state: S, http: &HttpOptions) -> Router {
    let track =
        axum::middleware::from_fn_with_state(state.metrics().clone(), crate::metrics::track);
    let routes = routes
        .route("/health", get(health::<S>))
        .route("/ready", get(ready::<S>))
        .route("/metrics", get(metrics::<S>))
        .layer(track)
        .with_state(state);
    standard_layers(routes, http)
}

/// Implements [`Operations`] for a service's handler state `$state` named `$service`, from the
/// fields every service's state has: `common` (its `draining`), `health`, `metrics`, and `store`
/// (its `ping`). `gauges: f` names an `async fn(&$state) -> Vec<Gauge<'static>>` for `/metrics`.
#[macro_export]
macro_rules! impl_operations {
    ($state:ty, $service:expr $(, gauges: $gauges:path)?) => {
        impl $crate::ops::Operations for $state {
            const SERVICE: &'static str = $service;

            fn health(&self) -> &$crate::health::HealthView {
                &self.health
            }

            fn draining(&self) -> &$crate::shutdown::Draining {
                &self.common.draining
            }

            fn metrics(&self) -> &$crate::metrics::Metrics {
                &self.metrics
            }

            async fn ping(&self) -> ::std::result::Result<(), String> {
                self.store.ping().await.map_err(|e| e.to_string())
            }

            $(
                async fn gauges(&self) -> Vec<$crate::metrics::Gauge<'static>> {
                    $gauges(self).await
                }
            )?
        }
    };
}
