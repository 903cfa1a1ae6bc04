//! A product as the store keeps it (money in integer cents, times in UTC milliseconds), the fields
//! of a new product, a partial update, and the list filter with its sort orders (each key both
//! ways).

use strum::{EnumString, IntoStaticStr, VariantNames};

/// Free-form client data: a JSON object, kept as its compact JSON text. The service never reads
/// inside it; the wire checks what a client sends and writes it back as it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata(String);

impl Metadata {
    /// Metadata whose text the caller has checked to be one compact JSON object.
    pub fn from_json_text(text: String) -> Self {
        Self(text)
    }

    /// The JSON text.
    pub fn as_json_text(&self) -> &str {
        &self.0
    }
}

/// A stored product: its fields under an id, with the times it was created and last changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// 24-hex ObjectId.
    pub id: String,
    /// What clients set: name, price, stock, ….
    pub fields: NewProduct,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// The fields of a product (already validated): those of one to create, and of a stored one.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProduct {
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price in cents.
    pub price_cents: i64,
    /// Units available (never negative).
    pub stock: i64,
    /// Category (exact-match filter).
    pub category: String,
    /// Stock keeping unit (trimmed), unique (case-sensitive).
    pub sku: String,
    /// Image URLs.
    pub images: Vec<String>,
    /// Whether it is visible (default true; false once soft-deleted).
    pub is_active: bool,
    /// Free-form client data.
    pub metadata: Option<Metadata>,
}

impl NewProduct {
    /// The product created from these fields with id `id` at `now` (ms).
    pub fn into_product(self, id: String, now: i64) -> Product {
        Product {
            id,
            fields: self,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A partial update: `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New price in cents.
    pub price_cents: Option<i64>,
    /// New stock level (an admin correction).
    pub stock: Option<i64>,
    /// New category.
    pub category: Option<String>,
    /// New SKU (must stay unique).
    pub sku: Option<String>,
    /// New image list.
    pub images: Option<Vec<String>>,
    /// New visibility.
    pub is_active: Option<bool>,
    /// New metadata.
    pub metadata: Option<Metadata>,
}

impl ProductPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The patch that soft-deletes.
    pub fn deactivate() -> Self {
        Self {
            is_active: Some(false),
            ..Self::default()
        }
    }
}

/// Sort orders of the product list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, EnumString, IntoStaticStr, VariantNames)]
pub enum SortOrder {
    /// Oldest first.
    #[strum(serialize = "createdAt")]
    CreatedAsc,
    /// Newest first (the default).
    #[default]
    #[strum(serialize = "-createdAt")]
    CreatedDesc,
    /// Cheapest first.
    #[strum(serialize = "price")]
    PriceAsc,
    /// Most expensive first.
    #[strum(serialize = "-price")]
    PriceDesc,
    /// By name, A to Z (case ignored).
    #[strum(serialize = "name")]
    NameAsc,
    /// By name, Z to A (case ignored).
    #[strum(serialize = "-name")]
    NameDesc,
}

impl SortOrder {
    /// The accepted `sort` values, in the order error messages list them.
    pub const ALLOWED: &'static [&'static str] = <Self as VariantNames>::VARIANTS;
}

shared::spelled!(SortOrder);

/// Which products a list shows: the active ones (the default), or only the inactive ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFilter {
    /// Active products (`true`, what everyone sees) or the inactive ones (admins only).
    pub is_active: bool,
    /// Exact category.
    pub category: Option<String>,
    /// Lowest price in cents (inclusive).
    pub min_price_cents: Option<i64>,
    /// Highest price in cents (inclusive).
    pub max_price_cents: Option<i64>,
    /// Case-insensitive substring of name or description (matched literally).
    pub search: Option<String>,
    /// Order of the results.
    pub sort: SortOrder,
}

impl Default for ProductFilter {
    /// Every active product, newest first.
    fn default() -> Self {
        Self {
            is_active: true,
            category: None,
            min_price_cents: None,
            max_price_cents: None,
            search: None,
            sort: SortOrder::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_allowed_sort_round_trips() {
        assert_eq!(
            SortOrder::ALLOWED,
            [
                "createdAt",
                "-createdAt",
                "price",
                "-price",
                "name",
                "-name"
            ]
        );
        for s in SortOrder::ALLOWED {
            assert_eq!(SortOrder::parse(s).map(SortOrder::as_str), Some(*s));
        }
        assert_eq!(SortOrder::parse("-name"), Some(SortOrder::NameDesc));
        assert_eq!(SortOrder::parse("-stock"), None);
    }

    #[test]
    fn empty_patch_is_detected() {
        assert!(ProductPatch::default().is_empty());
        assert!(!ProductPatch::deactivate().is_empty());
    }
}
