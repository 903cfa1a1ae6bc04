//! `/api/products`: the public catalogue reads (cached) and the admin writes, each write bumping
//! the cache generation after the database write.

use super::query::list_query;
use super::wire::{
    product_json, BulkRequest, CreateProductRequest, PatchProductRequest, ReplaceProductRequest,
};
use crate::app::catalogue;
use crate::domain::ProductPatch;
use crate::error::Error;
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use shared::auth::{bearer_token, RequireAdmin};
use shared::encoded::AcceptedCoding;
use shared::error::{created, ok};
use shared::extract::{IdPath, JsonBody, QueryMap};
use shared::ApiError;

/// Optional authentication: true when a valid admin token came along; anything else reads as
/// an anonymous caller (public endpoints never fail on a stale token).
pub struct MaybeAdmin(pub bool);

impl FromRequestParts<AppState> for MaybeAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = bearer_token(parts) else {
            return Ok(Self(false));
        };
        let claims = state.common.authenticator.authenticate(token).await.ok();
        Ok(Self(claims.is_some_and(|c| c.role == "admin")))
    }
}

/// `GET /api/products`.
pub async fn list_products(
    State(state): State<AppState>,
    accepted: AcceptedCoding,
    QueryMap(params): QueryMap,
) -> Result<Response, Error> {
    let (filter, page) = list_query(&params)?;
    let answer = state
        .cache
        .list(&*state.store, &filter, page)
        .await
        .map_err(Error::of_product)?;
    Ok(answer.respond(accepted))
}

/// `GET /api/products/:id`: active products; admins also see inactive ones.
pub async fn get_product(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    MaybeAdmin(admin): MaybeAdmin,
    accepted: AcceptedCoding,
) -> Result<Response, Error> {
    let answer = state
        .cache
        .product(&*state.store, &id)
        .await
        .map_err(Error::of_product)?;
    match answer {
        Some(a) if a.active || admin => Ok(a.body.respond(accepted)),
        _ => Err(Error::ProductNotFound),
    }
}

/// `POST /api/products` (admin).
pub async fn create_product(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    JsonBody(CreateProductRequest(new)): JsonBody<CreateProductRequest>,
) -> Result<Response, Error> {
    let product = catalogue::create(&state, new).await?;
    Ok(created(product_json(&product)))
}

/// `PUT /api/products/:id` (admin): the full product.
pub async fn replace_product(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    IdPath(id): IdPath,
    JsonBody(ReplaceProductRequest(patch)): JsonBody<ReplaceProductRequest>,
) -> Result<Response, Error> {
    let product = catalogue::update(&state, &id, patch).await?;
    Ok(ok(product_json(&product)))
}

/// `PATCH /api/products/:id` (admin): some fields.
pub async fn patch_product(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    IdPath(id): IdPath,
    JsonBody(PatchProductRequest(patch)): JsonBody<PatchProductRequest>,
) -> Result<Response, Error> {
    let product = catalogue::update(&state, &id, patch).await?;
    Ok(ok(product_json(&product)))
}

/// `DELETE /api/products/:id` (admin): soft delete.
pub async fn delete_product(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    IdPath(id): IdPath,
) -> Result<Response, Error> {
    let product = catalogue::update(&state, &id, ProductPatch::deactivate()).await?;
    Ok(ok(product_json(&product)))
}

/// `POST /api/products/bulk`: active products in request order.
pub async fn bulk_products(
    State(state): State<AppState>,
    JsonBody(BulkRequest(ids)): JsonBody<BulkRequest>,
) -> Result<Response, Error> {
    let products = state
        .store
        .get_active_many(&ids)
        .await
        .map_err(Error::of_product)?;
    Ok(ok(products.iter().map(product_json).collect::<Vec<_>>()))
}
