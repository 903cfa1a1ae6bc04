//! The stored shape of a product, the same in both backends (a row of `products` in SQLite, a
//! document in MongoDB), and its mapping to and from the domain `Product`.

use crate::domain::{Metadata, NewProduct, Product};
use serde::{Deserialize, Serialize};
use shared::sqlite::{json_text, Stored};
use shared::store::StoreError;

/// A product as stored: a row of `products`, or a document of the collection. `name_key` is a
/// MongoDB field (SQLite sorts by `name COLLATE NOCASE`), written and never read back; `images`
/// is JSON text in SQLite and an array in MongoDB; `metadata` is JSON text in both.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredProduct {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) name: String,
    /// `name` lowercased (ASCII only, like SQLite's NOCASE), for the name sort.
    #[serde(default, skip_deserializing)]
    name_key: String,
    description: String,
    pub(super) price_cents: i64,
    stock: i64,
    category: String,
    sku: String,
    #[serde(deserialize_with = "json_text")]
    images: Vec<String>,
    pub(super) is_active: bool,
    /// The metadata object as JSON text.
    metadata: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl StoredProduct {
    /// The stored shape of `p`.
    pub(super) fn new(p: &Product) -> Result<Self, StoreError> {
        let f = &p.fields;
        Ok(Self {
            id: p.id.clone(),
            name: f.name.clone(),
            name_key: f.name.to_ascii_lowercase(),
            description: f.description.clone(),
            price_cents: f.price_cents,
            stock: f.stock,
            category: f.category.clone(),
            sku: f.sku.clone(),
            images: f.images.clone(),
            is_active: f.is_active,
            metadata: f.metadata.as_ref().map(|m| m.as_json_text().to_owned()),
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
    }
}

impl TryFrom<StoredProduct> for Product {
    type Error = StoreError;

    fn try_from(d: StoredProduct) -> Result<Self, StoreError> {
        let fields = NewProduct {
            name: d.name,
            description: d.description,
            price_cents: d.price_cents,
            stock: d.stock,
            category: d.category,
            sku: d.sku,
            images: d.images,
            is_active: d.is_active,
            metadata: d.metadata.map(checked_metadata).transpose()?,
        };
        Ok(Product {
            id: d.id,
            fields,
            created_at: d.created_at,
            updated_at: d.updated_at,
        })
    }
}

impl Stored for Product {
    type Row = StoredProduct;
}

/// Stored metadata, checked to be JSON (a damaged value is an error, not an answer).
fn checked_metadata(text: String) -> Result<Metadata, StoreError> {
    serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
    Ok(Metadata::from_json_text(text))
}

/// `v` as JSON text.
pub(super) fn to_json_text<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(StoreError::from)
}
