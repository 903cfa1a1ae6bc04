//! The BSON side of the MongoDB product store: its indexes, and the filter, sort and `$set`
//! documents built from domain filters and patches (the document is the stored shape both
//! backends share, `store::shapes::StoredProduct`).

use crate::domain::{ProductFilter, ProductPatch, SortOrder};
use mongodb::bson::{doc, Bson, Document};
use shared::mongo::IndexSpec;
use shared::store::{now_ms, StoreError};

/// The products collection.
pub(super) const PRODUCTS: &str = "products";

/// The `products` indexes, named explicitly so that existing ones are recognised: the unique SKU,
/// and one per sort key of the list with and without a category (equality fields, then the sort
/// key and `_id`, read forwards or backwards), which a price range narrows when the sort is by
/// price.
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
    let mut d = doc! {"is_active": f.is_active};
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
        SortOrder::NameDesc => doc! {"name_key": -1, "_id": -1},
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
        set.insert("metadata", Bson::String(v.as_json_text().to_owned()));
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
