//! HTTP routes: the public `/api/payments` API, the internal `/events` receiver, health, metrics.

pub mod events;
pub mod health;
pub mod payments;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

/// Every route of the service (layers are added by the caller).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/events", post(events::receive_events))
        .route("/api/payments/process", post(payments::process_payment))
        .route("/api/payments/{order_id}", get(payments::get_payment))
        .route("/api/payments/{id}/refund", post(payments::refund_payment))
}
