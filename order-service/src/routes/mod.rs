//! The HTTP surface: client routes under `/api/orders`, the internal routes, health, readiness and
//! metrics.

pub mod dto;
mod events;
pub(crate) mod health;
mod orders;

use crate::state::AppState;
use axum::routing::{get, post, put};
use axum::Router;

/// The service's routes (without the standard layers).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route(
            "/api/orders",
            post(orders::create_order).get(orders::list_orders),
        )
        .route("/api/orders/{id}", get(orders::get_order))
        .route("/api/orders/{id}/cancel", put(orders::cancel_order))
        .route("/api/orders/{id}/status", put(orders::update_status))
        .route("/events", post(events::receive_events))
        .route("/internal/orders/{id}", get(events::internal_order))
        .route("/internal/orders/{id}/refund", post(events::refund_order))
        .route("/metrics", get(health::metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            shared::metrics::track,
        ))
        .with_state(state)
}
