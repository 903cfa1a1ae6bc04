//! The service's routes: the public/admin product API, the internal reservation API, health,
//! readiness and metrics.

pub(crate) mod health;
pub mod openapi;
mod products;
pub mod query;
mod reservations;
pub mod wire;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;
use shared::http::HttpOptions;

/// The fully layered router.
pub fn router(state: AppState, http: &HttpOptions) -> Router {
    let routes = Router::new()
        .route(
            "/api/products",
            get(products::list_products).post(products::create_product),
        )
        .route("/api/products/bulk", post(products::bulk_products))
        .route(
            "/api/products/{id}",
            get(products::get_product)
                .put(products::replace_product)
                .patch(products::patch_product)
                .delete(products::delete_product),
        )
        .route(
            "/internal/reservations",
            post(reservations::create_reservation),
        )
        .route(
            "/internal/reservations/{order_id}/release",
            post(reservations::release_reservation),
        )
        .route("/openapi.json", get(openapi::document))
        .route("/internal/openapi.json", get(openapi::internal::document));
    shared::ops::service_router(routes, state, http)
}
