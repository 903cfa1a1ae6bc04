//! HTTP routes of the bus: the event API, health, readiness and metrics.

mod events;
pub(crate) mod health;
mod wire;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The bus's routes, before the standard layers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/events",
            post(events::publish_events).get(events::list_events),
        )
        .route("/events/dead", get(events::list_dead))
        .route("/events/{id}/replay", post(events::replay_event))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
}
