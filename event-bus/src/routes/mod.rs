//! HTTP routes of the bus: the event API and its description, health, readiness and metrics.

mod events;
pub(crate) mod health;
pub mod openapi;
mod wire;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use shared::http::HttpOptions;

/// The fully layered router.
pub fn router(state: AppState, http: &HttpOptions) -> Router {
    let routes = Router::new()
        .route(
            "/events",
            post(events::publish_events).get(events::list_events),
        )
        .route("/events/dead", get(events::list_dead))
        .route("/events/{id}/replay", post(events::replay_event))
        .route("/internal/openapi.json", get(openapi::document));
    shared::ops::service_router(routes, state, http)
}
