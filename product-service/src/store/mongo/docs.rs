//! The BSON side of the MongoDB product store: the stored product document, its indexes, and
//! the filter, sort and `$set` documents built from domain filters and patches.

use crate::domain::{Product, ProductFilter, ProductPatch, SortOrder};
use mongodb::bson::{doc, Bson, Document};
use serde::{Deserialize, Serialize};
use shared::mongo::IndexSpec;
use shared::store::{now_ms, StoreError};

/// The products collection.
pub(super) const PRODUCTS: &str = "products";

/// A product as stored in the `products` collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ProductDoc {
    #[serde(rename = "_id")]
    pub(super) id: String,
    pub(super) name: String,
    /// `name` lowercased (ASCII only, like SQLite's NOCASE), for the name sort.
    name_key: String,
    description: String,
    pub(super) price_cents: i64,
    stock: i64,
    category: String,
    sku: String,
    images: Vec<String>,
    pub(super) is_active: bool,
    /// The metadata object as JSON text.
    metadata: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl ProductDoc {
    pub(super) fn from_product(p: &Product) -> Result<Self, StoreError> {
        Ok(Self {
            id: p.id.clone(),
            name: p.name.clone(),
            name_key: p.name.to_ascii_lowercase(),
            description: p.description.clone(),
            price_cents: p.price_cents,
            stock: p.stock,
            category: p.category.clone(),
            sku: p.sku.clone(),
            images: p.images.clone(),
            is_active: p.is_active,
            metadata: p.metadata.as_ref().map(to_json_text).transpose()?,
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
    }

    pub(super) fn into_product(self) -> Result<Product, StoreError> {
        Ok(Product {
            id: self.id,
            name: self.name,
            description: self.description,
            price_cents: self.price_cents,
            stock: self.stock,
            category: self.category,
            sku: self.sku,
            images: self.images,
            is_active: self.is_active,
            metadata: self
                .metadata
                .map(|m| serde_json::from_str(&m))
                .transpose()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn to_json_text<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(StoreError::from)
}

/// The `products` indexes, named explicitly so that existing ones are recognised: the unique SKU,
/// and one per sort of the active list with and without a category (equality fields, then the
/// sort key and `_id`), which a price range narrows when the sort is by price.
pub(super) fn product_indexes() -> Vec<IndexSpec> {
    let list = |name, keys| IndexSpec::named(PRODUCTS, name, keys);
    vec![
        IndexSpec::named(PRODUCTS, "sku_unique", doc! {"sku": 1}).unique(),
        list(
            "list_created",
            doc! {"is_active": 1, "created_at": 1, "_id": 1},
        ),
        list(
            "list_price",
            doc! {"is_active": 1, "price_cents": 1, "_id": 1},
        ),
        list("list_name", doc! {"is_active": 1, "name_key": 1, "_id": 1}),
        list(
            "category_created",
            doc! {"is_active": 1, "category": 1, "created_at": 1, "_id": 1},
        ),
        list(
            "category_price",
            doc! {"is_active": 1, "category": 1, "price_cents": 1, "_id": 1},
        ),
        list(
            "category_name",
            doc! {"is_active": 1, "category": 1, "name_key": 1, "_id": 1},
        ),
    ]
}

/// Escapes regex metacharacters so `s` matches literally (PCRE and RE2 agree on `\` + punctuation).
pub(super) fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}-/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn filter_doc(f: &ProductFilter) -> Document {
    let mut d = doc! {"is_active": true};
    if let Some(c) = &f.category {
        d.insert("category", c.as_str());
    }
    let mut price = Document::new();
    if let Some(min) = f.min_price_cents {
        price.insert("$gte", min);
    }
    if let Some(max) = f.max_price_cents {
        price.insert("$lte", max);
    }
    if !price.is_empty() {
        d.insert("price_cents", price);
    }
    if let Some(s) = &f.search {
        let pattern = escape_regex(s);
        d.insert(
            "$or",
            vec![
                doc! {"name": {"$regex": pattern.as_str(), "$options": "i"}},
                doc! {"description": {"$regex": pattern.as_str(), "$options": "i"}},
            ],
        );
    }
    d
}

pub(super) fn sort_doc(sort: SortOrder) -> Document {
    match sort {
        SortOrder::CreatedAsc => doc! {"created_at": 1, "_id": 1},
        SortOrder::CreatedDesc => doc! {"created_at": -1, "_id": -1},
        SortOrder::PriceAsc => doc! {"price_cents": 1, "_id": 1},
        SortOrder::PriceDesc => doc! {"price_cents": -1, "_id": -1},
        SortOrder::NameAsc => doc! {"name_key": 1, "_id": 1},
    }
}

/// The `$set` document of a patch (present fields only, plus `updated_at`).
pub(super) fn patch_set(patch: ProductPatch) -> Result<Document, StoreError> {
    let mut set = doc! {"updated_at": now_ms()};
    if let Some(name) = patch.name {
        set.insert("name_key", name.to_ascii_lowercase());
        set.insert("name", name);
    }
    if let Some(v) = patch.description {
        set.insert("description", v);
    }
    if let Some(v) = patch.price_cents {
        set.insert("price_cents", v);
    }
    if let Some(v) = patch.stock {
        set.insert("stock", v);
    }
    if let Some(v) = patch.category {
        set.insert("category", v);
    }
    if let Some(v) = patch.sku {
        set.insert("sku", v);
    }
    if let Some(v) = patch.images {
        set.insert("images", v);
    }
    if let Some(v) = patch.is_active {
        set.insert("is_active", v);
    }
    if let Some(v) = patch.metadata {
        set.insert("metadata", Bson::String(to_json_text(&v)?));
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_metacharacters_are_escaped() {
        assert_eq!(escape_regex("a.b*(c)"), r"a\.b\*\(c\)");
        assert_eq!(escape_regex("50%"), "50%");
    }
}
