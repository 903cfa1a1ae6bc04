//! The service's routes under `/api/auth`, the internal call, health and readiness, wrapped in the
//! standard layers.

mod auth;
pub(crate) mod health;
pub mod openapi;
mod users;
pub(crate) mod wire;

use crate::state::AppState;
use axum::routing::{get, patch, post};
use axum::Router;
use shared::http::HttpOptions;

/// The fully layered router.
pub fn router(state: AppState, http: &HttpOptions) -> Router {
    let api = Router::new()
        .route("/register", post(auth::register))
        .route("/login", post(auth::login))
        .route("/refresh", post(auth::refresh))
        .route("/logout", post(auth::logout))
        .route("/verify", get(auth::verify))
        .route("/profile", get(auth::profile))
        .route("/users", get(users::list_users))
        .route("/users/{id}", patch(users::patch_user));
    let routes = Router::new()
        .nest("/api/auth", api)
        .route("/internal/sessions/{sid}", get(health::session_status))
        .route("/openapi.json", get(openapi::document))
        .route("/internal/openapi.json", get(openapi::internal::document));
    shared::ops::service_router(routes, state, http)
}
