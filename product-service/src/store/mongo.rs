//! MongoDB implementation of `ProductStore` (production). Products are one document each (`_id` =
//! the app's 24-hex id, money in cents, times in UTC ms); a reservation is one document keyed by
//! its order id with its lines embedded, so no multi-document transaction is needed.
//!
//! Without transactions, `reserve` is a sequence of idempotent single-document steps with
//! compensation (see `mongo/reserve.rs`): insert a `pending` reservation (the unique `_id` is the
//! claim, so one call per order takes stock), take each line with one conditional `$inc`
//! (`stock >= qty` on an active product), put back what was taken and delete the claim on a
//! failed line, then flip the claim to `reserved` with its items. `release` flips `reserved` →
//! `released` in one conditional update (the claim), then puts each line back with `$inc`.
//! Known gap versus SQLite: a process crash between steps leaves a `pending` claim (or a
//! released reservation whose stock was not fully put back); such a claim answers 503 to
//! retries until an operator resolves it. `metadata` is stored as JSON text so any JSON object
//! (keys with `$` or `.`, integers beyond i64) round-trips exactly as in SQLite. The name sort
//! uses a stored ASCII-lowercased `name_key`, matching SQLite's `COLLATE NOCASE`.

mod reserve;

use super::{ProductStore, ReserveError, Reserved};
use crate::domain::{
    NewProduct, Product, ProductFilter, ProductPatch, Reservation, ReservationLine, SortOrder,
};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{Collection, Database, IndexModel};
use serde::{Deserialize, Serialize};
use shared::mongo::MongoOptions;
use shared::store::{now_ms, PageRequest, StoreError};
use tokio::sync::OnceCell;

/// The database used when the URL names none.
pub const DEFAULT_DATABASE: &str = "ecommerce_products";

/// A product as stored in the `products` collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ProductDoc {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    /// `name` lowercased (ASCII only, like SQLite's NOCASE), for the name sort.
    name_key: String,
    description: String,
    price_cents: i64,
    stock: i64,
    category: String,
    sku: String,
    images: Vec<String>,
    is_active: bool,
    /// The metadata object as JSON text.
    metadata: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl ProductDoc {
    fn from_product(p: &Product) -> Result<Self, StoreError> {
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

    fn into_product(self) -> Result<Product, StoreError> {
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

/// Products and reservations in one MongoDB database.
pub struct MongoProductStore {
    db: Database,
    products: Collection<ProductDoc>,
    reservations: Collection<reserve::ReservationDoc>,
    /// Set once the indexes exist; writes wait for it, so the unique SKU index is always there.
    indexes: OnceCell<()>,
}

impl MongoProductStore {
    /// Connects to `url` (database from its path, else `ecommerce_products`) and creates the
    /// indexes. An unreachable server does not fail startup (the service then answers 503 and
    /// `/ready` reports it); the indexes are created before the first write instead.
    pub async fn connect(url: &str, opts: MongoOptions) -> Result<Self, StoreError> {
        let db = shared::mongo::connect(url, DEFAULT_DATABASE, crate::SERVICE_NAME, opts).await?;
        let store = Self {
            products: db.collection("products"),
            reservations: db.collection("reservations"),
            db,
            indexes: OnceCell::new(),
        };
        match store.ensure_indexes().await {
            Ok(()) => Ok(store),
            Err(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "MongoDB unreachable at startup; indexes deferred");
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }

    /// Creates the missing indexes once. Existing ones are skipped rather than re-created:
    /// FerretDB v1.24 drops the connection on `createIndexes` for an index that exists.
    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        self.indexes
            .get_or_try_init(|| async {
                let existing = match self.products.list_index_names().await {
                    Ok(names) => names,
                    // A collection that does not exist yet has no indexes.
                    Err(e) if namespace_not_found(&e) => Vec::new(),
                    Err(e) => return Err(e.into()),
                };
                let missing: Vec<IndexModel> = product_indexes()
                    .into_iter()
                    .filter(|m| {
                        let name = m.options.as_ref().and_then(|o| o.name.as_deref());
                        !name.is_some_and(|n| existing.iter().any(|e| e == n))
                    })
                    .collect();
                if !missing.is_empty() {
                    self.products.create_indexes(missing).await?;
                }
                Ok::<(), StoreError>(())
            })
            .await
            .map(|_| ())
    }
}

/// The `products` indexes, named explicitly so that existing ones are recognised.
fn product_indexes() -> Vec<IndexModel> {
    let index = |name: &str, keys: Document, unique: bool| {
        let mut options = IndexOptions::builder().name(name.to_string()).build();
        options.unique = unique.then_some(true);
        IndexModel::builder().keys(keys).options(options).build()
    };
    vec![
        index("sku_unique", doc! {"sku": 1}, true),
        index(
            "active_created",
            doc! {"is_active": 1, "created_at": 1},
            false,
        ),
        index("category", doc! {"category": 1}, false),
        index("price", doc! {"price_cents": 1}, false),
        index("name_key", doc! {"name_key": 1}, false),
    ]
}

/// True for "ns does not exist" (code 26), what `listIndexes` answers for a new collection.
fn namespace_not_found(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 26)
}

/// A write error as `StoreError`. FerretDB v1.24 reports a unique violation inside
/// `findAndModify` as InternalError (code 1) naming the SQLite UNIQUE constraint instead of
/// 11000, so that message is recognised here too (real MongoDB sends 11000).
fn write_error(e: mongodb::error::Error) -> StoreError {
    use mongodb::error::ErrorKind;
    match e.kind.as_ref() {
        ErrorKind::Command(c) if c.message.contains("UNIQUE constraint failed") => {
            StoreError::Conflict(c.message.clone())
        }
        _ => StoreError::from(e),
    }
}

/// Escapes regex metacharacters so `s` matches literally (PCRE and RE2 agree on `\` + punctuation).
fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}-/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn filter_doc(f: &ProductFilter) -> Document {
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

fn sort_doc(sort: SortOrder) -> Document {
    match sort {
        SortOrder::CreatedAsc => doc! {"created_at": 1, "_id": 1},
        SortOrder::CreatedDesc => doc! {"created_at": -1, "_id": -1},
        SortOrder::PriceAsc => doc! {"price_cents": 1, "_id": 1},
        SortOrder::PriceDesc => doc! {"price_cents": -1, "_id": -1},
        SortOrder::NameAsc => doc! {"name_key": 1, "_id": 1},
    }
}

/// The `$set` document of a patch (present fields only, plus `updated_at`).
fn patch_set(patch: ProductPatch) -> Result<Document, StoreError> {
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

#[async_trait]
impl ProductStore for MongoProductStore {
    async fn create(&self, new: NewProduct) -> Result<Product, StoreError> {
        self.ensure_indexes().await?;
        let now = now_ms();
        let product = Product {
            id: shared::ids::new_object_id(),
            name: new.name,
            description: new.description,
            price_cents: new.price_cents,
            stock: new.stock,
            category: new.category,
            sku: new.sku,
            images: new.images,
            is_active: new.is_active,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
        };
        self.products
            .insert_one(ProductDoc::from_product(&product)?)
            .await?;
        Ok(product)
    }

    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let found = self.products.find_one(doc! {"_id": id}).await?;
        found.map(ProductDoc::into_product).transpose()
    }

    async fn list(
        &self,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<(Vec<Product>, u64), StoreError> {
        let query = filter_doc(filter);
        let total = self.products.count_documents(query.clone()).await?;
        let docs: Vec<ProductDoc> = self
            .products
            .find(query)
            .sort(sort_doc(filter.sort))
            .skip(page.offset())
            .limit(i64::try_from(page.limit).unwrap_or(i64::MAX))
            .await?
            .try_collect()
            .await?;
        let products = docs
            .into_iter()
            .map(ProductDoc::into_product)
            .collect::<Result<_, _>>()?;
        Ok((products, total))
    }

    async fn get_active_many(&self, ids: &[String]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: Vec<ProductDoc> = self
            .products
            .find(doc! {"_id": {"$in": ids}, "is_active": true})
            .await?
            .try_collect()
            .await?;
        let mut ordered = Vec::with_capacity(found.len());
        for id in ids {
            if let Some(pos) = found.iter().position(|p| &p.id == id) {
                ordered.push(found.swap_remove(pos).into_product()?);
            }
        }
        Ok(ordered)
    }

    async fn update(&self, id: &str, patch: ProductPatch) -> Result<Product, StoreError> {
        self.ensure_indexes().await?;
        let updated = self
            .products
            .find_one_and_update(doc! {"_id": id}, doc! {"$set": patch_set(patch)?})
            .return_document(ReturnDocument::After)
            .await
            .map_err(write_error)?;
        updated
            .ok_or(StoreError::NotFound)
            .and_then(ProductDoc::into_product)
    }

    async fn reserve(
        &self,
        order_id: &str,
        lines: &[ReservationLine],
    ) -> Result<Reserved, ReserveError> {
        reserve::reserve(&self.products, &self.reservations, order_id, lines).await
    }

    async fn release(&self, order_id: &str) -> Result<bool, ReserveError> {
        reserve::release(&self.products, &self.reservations, order_id).await
    }

    async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError> {
        reserve::load(&self.reservations, order_id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        shared::mongo::ping(&self.db).await
    }
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
