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

/// Serves `router` on `listener` until `shutdown` is cancelled, then marks `draining` and lets
/// in-flight requests finish; `health` (a service's `/health` view) is refreshed in the background
/// until then.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    draining: Draining,
    health: Option<HealthView>,
) -> std::io::Result<()> {
    let refresh = shutdown.child_token();
    let refresher = health.map(|h| tokio::spawn(h.run(refresh.clone())));
    let signal = async move {
        shutdown.cancelled().await;
        draining.start();
    };
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
