//! Serving a router on a bound listener until a cancellation token fires, draining in-flight
//! requests; and the `/ready` answer every service gives.

use crate::error::ApiError;
use crate::shutdown::Draining;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `router` on `listener` until `shutdown` is cancelled, then marks `draining` and lets
/// in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    draining: Draining,
) -> std::io::Result<()> {
    let signal = async move {
        shutdown.cancelled().await;
        draining.start();
    };
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await
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
