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

/// A service's whole router: its own `routes`, the operations routes, the state, and the standard
/// layers, counting every answer by its matched route
/// ([`crate::http::standard_layers`]).
pub fn service_router<S: Operations>(routes: Router<S>, state: S, http: &HttpOptions) -> Router {
    let counts = state.metrics().clone();
    let routes = routes
        .route("/health", get(health::<S>))
        .route("/ready", get(ready::<S>))
        .route("/metrics", get(metrics::<S>))
        .with_state(state);
    standard_layers(routes, http, counts)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::body::Body;
    use axum::http::{Method, Request};
    use serde_json::json;
    use std::time::Duration;
    use tower::ServiceExt;

    #[derive(Clone)]
    struct Svc {
        health: HealthView,
        draining: Draining,
        metrics: Metrics,
        up: bool,
    }

    impl Operations for Svc {
        const SERVICE: &'static str = "test-service";

        fn health(&self) -> &HealthView {
            &self.health
        }

        fn draining(&self) -> &Draining {
            &self.draining
        }

        fn metrics(&self) -> &Metrics {
            &self.metrics
        }

        async fn ping(&self) -> Result<(), String> {
            if self.up {
                Ok(())
            } else {
                Err("database down".into())
            }
        }

        async fn gauges(&self) -> Vec<Gauge<'static>> {
            vec![Gauge::new("test_queue", "Queued work.", 3.0)]
        }
    }

    fn svc(up: bool) -> Svc {
        let view = json!({"status": "healthy", "service": "test-service"});
        Svc {
            health: HealthView::new(Duration::from_secs(60), &view, || async { json!({}) }),
            draining: Draining::default(),
            metrics: Metrics::new("test-service", "0.0.0"),
            up,
        }
    }

    fn app(state: Svc) -> Router {
        let routes =
            crate::http::misbehaving_routes().route("/items/{id}", get(|| async { "item" }));
        let http = HttpOptions {
            service: "test-service",
            allowed_origins: vec![],
            request_timeout: Duration::from_millis(50),
        };
        service_router(routes, state, &http)
    }

    async fn call(app: &Router, method: Method, uri: &str) -> (u16, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn every_answer_is_counted_by_its_route_timeouts_panics_and_strays_included() {
        let state = svc(true);
        let app = app(state.clone());
        assert_eq!(call(&app, Method::GET, "/items/1").await.0, 200);
        assert_eq!(call(&app, Method::GET, "/slow").await.0, 504);
        assert_eq!(call(&app, Method::GET, "/panic").await.0, 500);
        assert_eq!(call(&app, Method::GET, "/nowhere").await.0, 404);
        assert_eq!(call(&app, Method::DELETE, "/items/1").await.0, 405);
        let text = state.metrics.render(&[]);
        for sample in [
            r#"method="GET",route="/items/{id}",status="200"} 1"#,
            r#"method="GET",route="/slow",status="504"} 1"#,
            r#"method="GET",route="/panic",status="500"} 1"#,
            r#"method="GET",route="unmatched",status="404"} 1"#,
            r#"method="DELETE",route="/items/{id}",status="405"} 1"#,
        ] {
            assert!(text.contains(sample), "no {sample} in\n{text}");
        }
    }

    #[tokio::test]
    async fn the_operations_routes_answer_from_the_state() {
        let up = svc(true);
        let app_up = app(up.clone());
        let (status, body) = call(&app_up, Method::GET, "/health").await;
        assert_eq!((status, body.contains("test-service")), (200, true));
        assert_eq!(call(&app_up, Method::GET, "/ready").await.0, 200);
        let (status, metrics) = call(&app_up, Method::GET, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            metrics.contains("test_queue{service=\"test-service\"} 3"),
            "{metrics}"
        );

        assert_eq!(call(&app(svc(false)), Method::GET, "/ready").await.0, 503);
        up.draining.start();
        assert_eq!(call(&app_up, Method::GET, "/ready").await.0, 503);
        assert_eq!(call(&app_up, Method::GET, "/health").await.0, 200);
    }
}
