//! `/api/products`: the public catalogue reads (cached) and the admin writes, each write bumping
//! the cache generation after the database write.

use super::openapi::{
    BulkSchema, ChangeRefusals, ListParams, NewProductSchema, ProductChangeSchema, ProductIdParam,
    ProductSchema,
};
use super::query::{list_query, PAGE_SIZE};
use super::wire::{
    product_json, BulkRequest, CreateProductRequest, PatchProductRequest, ReplaceProductRequest,
};
use crate::app::catalogue;
use crate::domain::ProductPatch;
use crate::error::Error;
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use shared::auth::{bearer_from_value, RequireAdmin};
use shared::encoded::AcceptedCoding;
use shared::error::{created, ok};
use shared::extract::{IdPath, JsonBody, QueryMap};
use shared::openapi::{AdminRefusals, Answer, ErrorAnswer, InvalidId, PageAnswer, PageParams};
use shared::ApiError;

/// Optional authentication: true when a valid admin token came along; anything else reads as
/// an anonymous caller (public endpoints never fail on a stale token).
pub struct MaybeAdmin(pub bool);

impl FromRequestParts<AppState> for MaybeAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(is_admin(state, &parts.headers).await))
    }
}

/// Whether `headers` carry a valid admin token (no token, a bad one or another role: false).
async fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_from_value);
    let Some(token) = token else {
        return false;
    };
    let claims = state.common.authenticator.authenticate(token).await.ok();
    claims.is_some_and(|c| c.role == "admin")
}

/// `GET /api/products`: active products; with `isActive=false`, an admin's list of the inactive
/// ones (anyone else: 403). The token is checked only then, so the public list stays one cache read.
#[utoipa::path(
    get,
    path = "/api/products",
    tag = "products",
    params(PageParams<PAGE_SIZE>, ListParams),
    responses(
        (status = 200, description = "A page of the active products (with `isActive=false`, of the inactive ones: admins only).", body = PageAnswer<ProductSchema>),
        (status = 400, description = "`validation_failed`: a bad or unknown parameter.", body = ErrorAnswer),
        (status = 403, description = "`forbidden`: `isActive=false` without an admin's token (customers and anonymous callers see only active products).", body = ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn list_products(
    State(state): State<AppState>,
    headers: HeaderMap,
    accepted: AcceptedCoding,
    QueryMap(params): QueryMap,
) -> Result<Response, Error> {
    let (filter, page) = list_query(&params)?;
    if !filter.is_active && !is_admin(&state, &headers).await {
        return Err(Error::InactiveListForbidden);
    }
    let answer = state
        .cache
        .list(&*state.store, &filter, page)
        .await
        .map_err(Error::of_product)?;
    Ok(answer.respond(accepted))
}

/// `GET /api/products/:id`: active products; admins also see inactive ones.
#[utoipa::path(
    get,
    path = "/api/products/{id}",
    tag = "products",
    params(ProductIdParam),
    responses(
        (status = 200, description = "The product.", body = Answer<ProductSchema>),
        InvalidId,
        (status = 404, description = "`product_not_found` (or deleted, to anyone but an admin).", body = ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
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
#[utoipa::path(
    post,
    path = "/api/products",
    tag = "products",
    request_body(content = NewProductSchema, description = "`name`, `description`, `price`, `stock`, `category` and `sku` are required."),
    responses(
        (status = 201, description = "The product created.", body = Answer<ProductSchema>),
        (status = 400, description = "`validation_failed` (every bad field listed) or `malformed_json`.", body = ErrorAnswer),
        AdminRefusals,
        (status = 409, description = "`sku_taken`.", body = ErrorAnswer),
        (status = 413, description = "`payload_too_large`.", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn create_product(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    JsonBody(CreateProductRequest(new)): JsonBody<CreateProductRequest>,
) -> Result<Response, Error> {
    let product = catalogue::create(&state, new).await?;
    Ok(created(product_json(&product)))
}

/// `PUT /api/products/:id` (admin): the full product.
#[utoipa::path(
    put,
    path = "/api/products/{id}",
    tag = "products",
    params(ProductIdParam),
    request_body(content = NewProductSchema, description = "`name`, `description`, `price`, `stock`, `category` and `sku` are required; the others keep their values when left out."),
    responses(
        (status = 200, description = "The product after the change.", body = Answer<ProductSchema>),
        ChangeRefusals,
        AdminRefusals,
    ),
    security(("bearer" = []))
)]
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
#[utoipa::path(
    patch,
    path = "/api/products/{id}",
    tag = "products",
    params(ProductIdParam),
    request_body(content = ProductChangeSchema, description = "Any of the fields, at least one."),
    responses(
        (status = 200, description = "The product after the change.", body = Answer<ProductSchema>),
        ChangeRefusals,
        AdminRefusals,
    ),
    security(("bearer" = []))
)]
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
#[utoipa::path(
    delete,
    path = "/api/products/{id}",
    tag = "products",
    params(ProductIdParam),
    responses(
        (status = 200, description = "The product, now inactive.", body = Answer<ProductSchema>),
        InvalidId,
        AdminRefusals,
        (status = 404, description = "`product_not_found`.", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn delete_product(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    IdPath(id): IdPath,
) -> Result<Response, Error> {
    let product = catalogue::update(&state, &id, ProductPatch::deactivate()).await?;
    Ok(ok(product_json(&product)))
}

/// `POST /api/products/bulk`: active products in request order.
#[utoipa::path(
    post,
    path = "/api/products/bulk",
    tag = "products",
    request_body = BulkSchema,
    responses(
        (status = 200, description = "The active products among the ids, in their order.", body = Answer<Vec<ProductSchema>>),
        (status = 400, description = "`validation_failed` or `malformed_json`.", body = ErrorAnswer),
        (status = 413, description = "`payload_too_large`.", body = ErrorAnswer),
    )
)]
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
