//! HTTP routes of the bus: the event API and its description, health, readiness and metrics.

mod events;
pub(crate) mod health;
pub mod openapi;
mod wire;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use shared::http::{ops_routes, HttpOptions};

/// The fully layered router.
pub fn router(state: AppState, http: &HttpOptions) -> Router {
    let track = axum::middleware::from_fn_with_state(state.metrics.clone(), shared::metrics::track);
    let routes = Router::new()
        .route(
            "/events",
            post(events::publish_events).get(events::list_events),
        )
        .route("/events/dead", get(events::list_dead))
        .route("/events/{id}/replay", post(events::replay_event))
        .route("/internal/openapi.json", get(openapi::document))
        .merge(ops_routes(health::health, health::ready, health::metrics))
        .layer(track)
        .with_state(state);
    shared::http::standard_layers(routes, http)
}
