//! The HTTP surface: client routes under `/api/orders`, the internal routes, health, readiness and
//! metrics.

mod events;
pub(crate) mod health;
pub mod openapi;
mod orders;
pub mod wire;

use crate::state::AppState;
use axum::routing::{get, post, put};
use axum::Router;
use shared::http::HttpOptions;

/// The fully layered router.
pub fn router(state: AppState, http: &HttpOptions) -> Router {
    let routes = Router::new()
        .route(
            "/api/orders",
            post(orders::create_order).get(orders::list_orders),
        )
        .route("/api/orders/{id}", get(orders::get_order))
        .route("/api/orders/{id}/cancel", put(orders::cancel_order))
        .route("/api/orders/{id}/status", put(orders::update_status))
        .route("/events", post(shared::events::receive_events::<AppState>))
        .route("/internal/orders/{id}", get(events::internal_order))
        .route("/internal/orders/{id}/refund", post(events::refund_order))
        .route("/openapi.json", get(openapi::document))
        .route("/internal/openapi.json", get(openapi::internal::document));
    shared::ops::service_router(routes, state, http)
}
