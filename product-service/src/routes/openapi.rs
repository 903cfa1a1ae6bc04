//! The product API described by OpenAPI 3.1: the public routes with their parameters, bodies and
//! limits, answers and error codes, served at `GET /openapi.json` on the service's own port. The
//! limits are the wire's, checked against the document by the tests (`openapi/tests.rs`). The
//! schema types here describe; the wire (`wire.rs`, `query.rs`) parses.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use super::products;
use crate::domain::SortOrder;
use serde::{Deserialize, Serialize};
use serde_json::json;
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

/// The fields of a product, read by [`NewProductSchema`] and [`ProductChangeSchema`]. Unknown
/// fields are refused.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductFieldsSchema {
    #[schema(nullable = false, min_length = 2, max_length = 100)]
    name: Option<String>,
    /// Tabs and line breaks are allowed.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 1000,
        pattern = r"^(?:[^\s\u0000-\u001F\u007F-\u009F](?:[^\u0000-\u0008\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F])?)?$"
    )]
    description: Option<String>,
    /// The unit price, with at most 2 decimals.
    #[schema(
        nullable = false,
        minimum = 0,
        maximum = 10_000_000,
        multiple_of = 0.01
    )]
    price: Option<f64>,
    #[schema(nullable = false, minimum = 0, maximum = 1_000_000_000)]
    stock: Option<i64>,
    #[schema(nullable = false, min_length = 1, max_length = 100)]
    category: Option<String>,
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    sku: Option<String>,
    /// `http` or `https` URLs.
    #[schema(nullable = false, max_items = 20)]
    images: Option<Vec<ImageUrl>>,
    /// Default `true` on creation.
    #[schema(nullable = false)]
    is_active: Option<bool>,
    #[schema(nullable = false, value_type = Option<Metadata>)]
    metadata: Option<serde_json::Value>,
}

/// The pattern of a key in `metadata`: not starting with `$` and holding no `.` (MongoDB would
/// read them as operators and paths) and no control character.
pub const METADATA_KEY_PATTERN: &str =
    r"^(?:[^$.\u0000-\u001F\u007F-\u009F][^.\u0000-\u001F\u007F-\u009F]*)?$";

/// The client's own data, stored and answered as sent
/// ([`check_stored_json`](shared::validate::check_stored_json)).
#[derive(Deserialize)]
pub struct Metadata;

impl utoipa::PartialSchema for Metadata {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut object = metadata_object();
        object["description"] = json!(
            "Any JSON object of at most 16 KiB serialized: keys do not start with `$` or hold \
             `.`, and neither keys nor strings hold control characters."
        );
        serde_json::from_value(object).expect("the metadata's schema is a schema")
    }
}

impl ToSchema for Metadata {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        let value = json!({"oneOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "number"},
            {"type": "string", "pattern": shared::openapi::RAW_TEXT},
            {"type": "array", "items": {"$ref": "#/components/schemas/MetadataValue"}},
            metadata_object(),
        ]});
        let schema = serde_json::from_value(value).expect("the metadata's schema is a schema");
        schemas.push(("MetadataValue".into(), schema));
    }
}

/// An object in `metadata`: keys as [`METADATA_KEY_PATTERN`] says, values `MetadataValue`s.
fn metadata_object() -> serde_json::Value {
    json!({
        "type": "object",
        "propertyNames": {"type": "string", "pattern": METADATA_KEY_PATTERN},
        "additionalProperties": {"$ref": "#/components/schemas/MetadataValue"}
    })
}

/// An image's URL: `http` or `https`, with a host, of printable ASCII (a URL's characters; others
/// are percent-encoded), at most 2,048 characters. The wire
/// ([`is_http_url`](super::wire::is_http_url)) counts bytes, so ASCII keeps the two measures one;
/// it also takes other characters, which this leaves undocumented.
#[derive(Deserialize)]
pub struct ImageUrl;

impl utoipa::PartialSchema for ImageUrl {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .pattern(Some(IMAGE_URL_PATTERN))
            .max_length(Some(2048))
            .into()
    }
}

impl ToSchema for ImageUrl {}

/// [`ImageUrl`]'s pattern.
pub const IMAGE_URL_PATTERN: &str = r##"^https?://[!"$-.0->@-~][!-~]*$"##;

/// The fields `POST` and `PUT` require.
pub const REQUIRED_FIELDS: [&str; 6] = ["name", "description", "price", "stock", "category", "sku"];

shared::object_schema!(
    /// A new product (`POST`) or the whole product (`PUT`): the fields, the first six required.
    pub NewProductSchema as "NewProduct" = ProductFieldsSchema,
    |fields| {
        fields.required = REQUIRED_FIELDS.map(String::from).to_vec();
        fields.description = Some(
            "A product's fields: `name`, `description`, `price`, `stock`, `category` and `sku` \
             required. Unknown fields are refused."
                .into(),
        );
        fields.examples = vec![json!({
            "name": "Laptop",
            "description": "High-performance laptop",
            "price": 999.99,
            "stock": 50,
            "category": "Electronics",
            "sku": "LAP001"
        })];
    }
);

shared::object_schema!(
    /// A change to a product (`PATCH`): any of the fields, at least one.
    pub ProductChangeSchema as "ProductChange" = ProductFieldsSchema,
    |fields| {
        fields.min_properties = Some(1);
        fields.description = Some(
            "A change to a product: any of its fields, at least one. Unknown fields are refused."
                .into(),
        );
        fields.examples = vec![json!({"price": 899.99, "stock": 40})];
    }
);

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
    ids: Vec<shared::openapi::ObjectId>,
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
    #[param(minimum = 0, maximum = 10_000_000_000_000.0, multiple_of = 0.01)]
    min_price: Option<f64>,
    /// Highest price (inclusive), at most 2 decimals.
    #[param(minimum = 0, maximum = 10_000_000_000_000.0, multiple_of = 0.01)]
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
