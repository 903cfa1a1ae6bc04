//! Serving a router on a bound listener until a cancellation token fires, draining in-flight
//! requests, with the `/health` view refreshed in the background meanwhile; and the `/ready`
//! answer every service gives.

use crate::error::ApiError;
use crate::health::HealthView;
use crate::shutdown::Draining;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `router` on `listener` until `shutdown` is cancelled, then marks `draining`, goes on
/// serving for its delay (`/ready` answering 503), stops accepting and lets in-flight requests
/// finish; `health` (a service's `/health` view) is refreshed in the background until then.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    draining: Draining,
    health: Option<HealthView>,
) -> std::io::Result<()> {
    let refresh = shutdown.child_token();
    let refresher = health.map(|h| tokio::spawn(h.run(refresh.clone())));
    let signal = async move { draining.begin(&shutdown).await };
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await;
    refresh.cancel();
    if let Some(refresher) = refresher {
        if let Err(e) = refresher.await {
            tracing::error!(error = %e, "health refresher panicked");
        }
    }
    served
}

/// The `/ready` answer: 503 while draining or when a dependency check fails, else 200.
pub fn ready_response(service: &str, draining: &Draining, check: Result<(), String>) -> Response {
    if draining.is_draining() {
        return ApiError::unavailable(format!("{service} is shutting down")).into_response();
    }
    match check {
        Ok(()) => axum::Json(json!({"status": "ready", "service": service})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            ApiError::unavailable(format!("{service} is not ready")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use axum::extract::State;
    use axum::routing::get;
    use std::time::Duration;

    async fn ready(State(draining): State<Draining>) -> Response {
        ready_response("svc", &draining, Ok(()))
    }

    #[tokio::test]
    async fn a_draining_service_answers_ready_503_and_serves_until_its_delay_has_passed() {
        let draining = Draining::with_delay(Duration::from_millis(300));
        let router = Router::new()
            .route("/ready", get(ready))
            .with_state(draining.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ready", listener.local_addr().unwrap());
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(serve(listener, router, shutdown.clone(), draining, None));
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);

        let started = std::time::Instant::now();
        shutdown.cancel();
        // Still accepting, and saying it is going away.
        let answer = client.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 503);
        served.await.unwrap().unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "stopped before its delay"
        );
        assert!(
            client.get(&url).send().await.is_err(),
            "the listener is closed"
        );
    }
}
