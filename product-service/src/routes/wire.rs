//! Wire types of the product API: validation of request bodies (every bad field reported at once,
//! Joi-style messages), the product JSON clients see, the bytes of the cached read answers, and
//! the reservation request and answer of the internal API.

use crate::domain::{Metadata, NewProduct, Product, ProductPatch, Reservation, ReservationLine};
use bytes::Bytes;
use serde_json::{json, Map, Value};
use shared::error::{ok_bytes, paginated_body, Pagination};
use shared::extract::{BodyLimits, FromJson};
use shared::money::cents_to_json;
use shared::store::iso_ms;
use shared::validate::{check_stored_json, Validator};
use shared::{ApiError, FieldError};

/// Highest accepted price: 10 000 000.00.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000;
/// Highest accepted stock level.
pub const MAX_STOCK: i64 = 1_000_000_000;
/// Most images per product.
pub const MAX_IMAGES: usize = 20;
/// Largest serialized `metadata`.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Lengths in characters (least, most) of the text fields.
pub const NAME_LEN: (usize, usize) = (2, 100);
/// See [`NAME_LEN`].
pub const DESCRIPTION_LEN: (usize, usize) = (1, 1000);
/// See [`NAME_LEN`].
pub const CATEGORY_LEN: (usize, usize) = (1, 100);
/// See [`NAME_LEN`].
pub const SKU_LEN: (usize, usize) = (1, 64);
/// Most ids in one bulk read.
pub const MAX_BULK_IDS: usize = 100;

/// The product JSON clients see (`price` as a number, ISO timestamps, `_id`).
pub fn product_json(p: &Product) -> Value {
    let f = &p.fields;
    let mut v = json!({
        "_id": p.id,
        "name": f.name,
        "description": f.description,
        "price": cents_to_json(f.price_cents),
        "stock": f.stock,
        "category": f.category,
        "sku": f.sku,
        "images": f.images,
        "isActive": f.is_active,
        "createdAt": iso_ms(p.created_at),
        "updatedAt": iso_ms(p.updated_at),
    });
    if let Some(m) = &f.metadata {
        // Checked when it was stored and when it was read back.
        v["metadata"] = serde_json::from_str(m.as_json_text()).unwrap_or_default();
    }
    v
}

/// The bytes of the `GET /api/products/:id` answer: the `ok` envelope around [`product_json`].
pub fn product_answer(p: &Product) -> Bytes {
    Bytes::from(ok_bytes(product_json(p)))
}

/// The bytes of a `GET /api/products` answer: the `paginated` envelope around the page.
pub fn list_answer(items: &[Product], pagination: Pagination) -> Bytes {
    let data = items.iter().map(product_json).collect();
    Bytes::from(paginated_body(data, pagination).to_string())
}

/// Reads every product field (a partial validator leaves the required ones optional).
fn read_fields(v: &mut Validator<'_>) -> ProductPatch {
    // In the order errors are reported.
    ProductPatch {
        name: v.string("name", NAME_LEN.0, NAME_LEN.1),
        description: v.text("description", DESCRIPTION_LEN.0, DESCRIPTION_LEN.1),
        price_cents: v.money("price", MAX_PRICE_CENTS),
        stock: v.int("stock", 0, MAX_STOCK),
        category: v.string("category", CATEGORY_LEN.0, CATEGORY_LEN.1),
        sku: v.string("sku", SKU_LEN.0, SKU_LEN.1),
        images: read_images(v),
        is_active: v.opt_bool("isActive"),
        metadata: v.opt_object("metadata").and_then(|m| check_metadata(v, m)),
    }
}

fn read_images(v: &mut Validator<'_>) -> Option<Vec<String>> {
    let items = v.opt_array("images", 0, MAX_IMAGES)?;
    let mut urls = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(s) if is_http_url(s.trim()) => urls.push(s.trim().to_string()),
            Some(_) => {
                v.error_at(format!("images.{i}"), "must be a valid uri");
                ok = false;
            }
            None => {
                v.error_at(format!("images.{i}"), "must be a string");
                ok = false;
            }
        }
    }
    ok.then_some(urls)
}

fn check_metadata(v: &mut Validator<'_>, m: &Map<String, Value>) -> Option<Metadata> {
    let value = Value::Object(m.clone());
    let text = value.to_string();
    if text.len() > MAX_METADATA_BYTES {
        v.error(
            "metadata",
            &format!("must be at most {MAX_METADATA_BYTES} bytes when serialized"),
        );
        return None;
    }
    let before = v.error_count();
    check_stored_json(v, "metadata", &value);
    (v.error_count() == before).then(|| Metadata::from_json_text(text))
}

/// An absolute `http`/`https` URL with a host and no whitespace.
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    s.len() <= 2048 && !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `POST /api/products`: every required field.
pub struct CreateProductRequest(pub NewProduct);

impl FromJson for CreateProductRequest {
    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let f = read_fields(&mut v);
        v.finish()?;
        let (
            Some(name),
            Some(description),
            Some(price_cents),
            Some(stock),
            Some(category),
            Some(sku),
        ) = (
            f.name,
            f.description,
            f.price_cents,
            f.stock,
            f.category,
            f.sku,
        )
        else {
            // Unreachable: `finish` has already reported every missing required field.
            return Err(ApiError::validation(Vec::new()));
        };
        Ok(Self(NewProduct {
            name,
            description,
            price_cents,
            stock,
            category,
            sku,
            images: f.images.unwrap_or_default(),
            is_active: f.is_active.unwrap_or(true),
            metadata: f.metadata,
        }))
    }
}

/// `PUT /api/products/:id`: the full product (optional fields left out keep their values).
pub struct ReplaceProductRequest(pub ProductPatch);

impl FromJson for ReplaceProductRequest {
    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let patch = read_fields(&mut v);
        v.finish()?;
        Ok(Self(patch))
    }
}

/// `PATCH /api/products/:id`: any subset of the fields, at least one.
pub struct PatchProductRequest(pub ProductPatch);

impl FromJson for PatchProductRequest {
    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?.partial();
        let patch = read_fields(&mut v);
        v.finish()?;
        if patch.is_empty() {
            return Err(ApiError::validation(vec![FieldError::new(
                "body",
                "\"value\" must have at least 1 key",
            )]));
        }
        Ok(Self(patch))
    }
}

/// `POST /api/products/bulk`: 1–100 ids.
pub struct BulkRequest(pub Vec<String>);

impl FromJson for BulkRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let mut ids = Vec::new();
        if let Some(items) = v.array("ids", 1, MAX_BULK_IDS) {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) if shared::ids::is_object_id(s) => ids.push(s.to_ascii_lowercase()),
                    _ => v.error_at(format!("ids.{i}"), "must be a valid id"),
                }
            }
        }
        v.finish()?;
        Ok(Self(ids))
    }
}

/// Largest quantity of one line.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// `{orderId, items: [{productId, quantity}]}`.
pub struct ReserveRequest {
    /// The order the stock is for.
    pub order_id: String,
    /// Requested lines (duplicates allowed; the store sums them).
    pub lines: Vec<ReservationLine>,
}

impl FromJson for ReserveRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let order_id = v.object_id("orderId");
        let mut lines = Vec::new();
        if let Some(items) = v.array("items", 1, 100) {
            for (i, item) in items.iter().enumerate() {
                let path = format!("items.{i}");
                let Some(obj) = item.as_object() else {
                    v.error_at(path, "must be of type object");
                    continue;
                };
                let mut line = Validator::nested(obj, &path);
                let product_id = line.object_id("productId");
                let quantity = line.int("quantity", 1, MAX_QUANTITY);
                v.extend(line.finish_nested());
                if let (Some(product_id), Some(quantity)) = (product_id, quantity) {
                    lines.push(ReservationLine {
                        product_id,
                        quantity,
                    });
                }
            }
        }
        v.finish()?;
        Ok(Self {
            order_id: order_id.unwrap_or_default(),
            lines,
        })
    }
}

/// A reservation as the order service reads it.
pub fn reservation_json(r: &Reservation) -> Value {
    let items: Vec<Value> = r
        .items
        .iter()
        .map(|i| {
            json!({
                "productId": i.product_id,
                "name": i.name,
                "price": cents_to_json(i.price_cents),
                "quantity": i.quantity,
            })
        })
        .collect();
    json!({"orderId": r.order_id, "status": r.status.as_str(), "items": items})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(is_http_url("https://cdn.example.com/a.png"));
        assert!(is_http_url("http://example.com"));
        assert!(!is_http_url("ftp://example.com/a"));
        assert!(!is_http_url("https:///a.png"));
        assert!(!is_http_url("https://exa mple.com"));
        assert!(!is_http_url("javascript:alert(1)"));
    }

    #[test]
    fn create_reports_every_bad_field_in_schema_order() {
        let body = json!({"name": "X", "price": 1.005, "stock": -1, "images": ["nope"], "x": 1});
        let err = CreateProductRequest::from_json(&body).err().unwrap();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "description",
                "price",
                "stock",
                "category",
                "sku",
                "images.0",
                "x"
            ]
        );
        assert_eq!(err.errors[6].message, "\"images[0]\" must be a valid uri");
    }

    #[test]
    fn oversized_metadata_is_refused() {
        let big = "x".repeat(MAX_METADATA_BYTES);
        let body = json!({"metadata": {"blob": big}});
        let err = PatchProductRequest::from_json(&body).err().unwrap();
        assert_eq!(err.errors[0].field, "metadata");
    }
}
