//! HTTP routes: the public `/api/payments` API, the internal `/events` receiver, health, metrics.

pub mod events;
pub mod health;
pub mod openapi;
pub mod payments;
pub mod wire;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use shared::http::HttpOptions;

/// The fully layered router.
pub fn router(state: AppState, http: &HttpOptions) -> Router {
    let routes = Router::new()
        .route("/events", post(shared::events::receive_events::<AppState>))
        .route("/api/payments/process", post(payments::process_payment))
        .route("/api/payments/{order_id}", get(payments::get_payment))
        .route("/api/payments/{id}/refund", post(payments::refund_payment))
        .route("/openapi.json", get(openapi::document))
        .route("/internal/openapi.json", get(openapi::internal::document));
    shared::ops::service_router(routes, state, http)
}
