//! The product API described by OpenAPI 3.1: the public routes with their parameters, bodies and
//! limits, answers and error codes, served at `GET /openapi.json` on the service's own port. The
//! limits are the wire's, checked against the document by the tests (`openapi/tests.rs`). The
//! schema types here describe; the wire (`wire.rs`, `query.rs`) parses.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use super::products;
use crate::domain::SortOrder;
use serde::{Deserialize, Serialize};
use shared::openapi::ErrorAnswer;
use utoipa::{IntoParams, IntoResponses, ToSchema};

shared::object_id_param!(pub ProductIdParam, "id", "The product's id (24 hex digits).");

/// A product as clients see it.
#[derive(ToSchema, Serialize)]
#[schema(as = Product)]
#[serde(rename_all = "camelCase")]
pub struct ProductSchema {
    /// The product's id (24 hex digits).
    #[serde(rename = "_id")]
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    name: String,
    description: String,
    /// The unit price, with at most 2 decimals.
    #[schema(minimum = 0, multiple_of = 0.01)]
    price: f64,
    /// Units available.
    #[schema(minimum = 0)]
    stock: i64,
    category: String,
    /// Stock keeping unit, unique.
    sku: String,
    /// Image URLs.
    images: Vec<String>,
    /// False once deleted (only admins see such a product).
    is_active: bool,
    /// The client's own data, as it was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// The fields of a product (`POST` and `PUT` require the first six; `PATCH` takes any, at least
/// one). Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = ProductFields,
    examples(json!({
        "name": "Laptop",
        "description": "High-performance laptop",
        "price": 999.99,
        "stock": 50,
        "category": "Electronics",
        "sku": "LAP001"
    }))
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductFieldsSchema {
    #[schema(min_length = 2, max_length = 100)]
    name: Option<String>,
    /// Tabs and line breaks are allowed.
    #[schema(min_length = 1, max_length = 1000)]
    description: Option<String>,
    /// The unit price, with at most 2 decimals.
    #[schema(minimum = 0, maximum = 10_000_000, multiple_of = 0.01)]
    price: Option<f64>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    stock: Option<i64>,
    #[schema(min_length = 1, max_length = 100)]
    category: Option<String>,
    #[schema(min_length = 1, max_length = 64)]
    sku: Option<String>,
    /// `http` or `https` URLs.
    #[schema(max_items = 20)]
    images: Option<Vec<String>>,
    /// Default `true` on creation.
    is_active: Option<bool>,
    /// Any JSON object of at most 16 KiB serialized; keys may not start with `$` or hold `.`.
    #[schema(value_type = Option<Object>)]
    metadata: Option<serde_json::Value>,
}

/// `POST /api/products/bulk`.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = BulkProducts,
    examples(json!({"ids": ["6b13f727b32d7cebb0000001"]}))
)]
#[serde(deny_unknown_fields)]
pub struct BulkSchema {
    /// Product ids (24 hex digits); the active ones come back in this order.
    #[schema(min_items = 1, max_items = 100)]
    ids: Vec<String>,
}

/// The list's filters (after `page` and `limit`; unknown parameters are refused).
#[derive(IntoParams, Deserialize)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    /// Only this category.
    #[param(max_length = 100)]
    category: Option<String>,
    /// Lowest price (inclusive), at most 2 decimals.
    #[param(minimum = 0)]
    min_price: Option<f64>,
    /// Highest price (inclusive), at most 2 decimals.
    #[param(minimum = 0)]
    max_price: Option<f64>,
    /// A case-insensitive part of the name or description.
    #[param(max_length = 200)]
    search: Option<String>,
    /// The order (default `-createdAt`, newest first); every key both ways (`-` first: descending).
    #[param(inline)]
    sort: Option<SortParam>,
    /// `false`: the inactive (deleted) products instead of the active ones. Admins only: anyone
    /// else asking gets 403 `forbidden`. Default `true`.
    is_active: Option<bool>,
}

shared::spelled_schema!(
    /// The list's orders.
    SortParam as "Sort" = SortOrder::ALLOWED
);

/// The refusals of a change to a stored product.
#[derive(IntoResponses)]
pub enum ChangeRefusals {
    /// `validation_failed` (every bad field listed), `malformed_json` or `invalid_id`.
    #[response(status = 400)]
    Invalid(ErrorAnswer),
    /// `product_not_found`.
    #[response(status = 404)]
    NotFound(ErrorAnswer),
    /// `sku_taken`.
    #[response(status = 409)]
    SkuTaken(ErrorAnswer),
}

shared::openapi_document! {
    info(
        title = "Products",
        description = "The catalogue: public reads (cached), admin writes.",
    ),
    paths(products::list_products, products::create_product, products::bulk_products,
        products::get_product, products::replace_product, products::patch_product,
        products::delete_product),
    tags((name = "products", description = "The catalogue."))
}

pub mod internal;

#[cfg(test)]
mod tests;
