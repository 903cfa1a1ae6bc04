//! HTTP routes: the public `/api/payments` API, the internal `/events` receiver, health, metrics.

pub mod events;
pub mod health;
pub mod openapi;
pub mod payments;
pub mod wire;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use shared::http::{ops_routes, HttpOptions};

/// The fully layered router.
pub fn router(state: AppState, http: &HttpOptions) -> Router {
    let track = axum::middleware::from_fn_with_state(state.metrics.clone(), shared::metrics::track);
    let routes = Router::new()
        .route("/events", post(events::receive_events))
        .route("/api/payments/process", post(payments::process_payment))
        .route("/api/payments/{order_id}", get(payments::get_payment))
        .route("/api/payments/{id}/refund", post(payments::refund_payment))
        .route("/openapi.json", get(openapi::document))
        .route("/internal/openapi.json", get(openapi::internal::document))
        .merge(ops_routes(health::health, health::ready, health::metrics))
        .layer(track)
        .with_state(state);
    shared::http::standard_layers(routes, http)
}
