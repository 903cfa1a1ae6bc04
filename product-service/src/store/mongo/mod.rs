//! MongoDB implementation of `ProductStore` (production). Products are one document each (`_id` =
//! the app's 24-hex id, money in cents, times in UTC ms); a reservation is one document keyed by
//! its order id with its lines embedded, so no multi-document transaction is needed.
//!
//! Without transactions, `reserve` is a sequence of single-document steps with compensation
//! (see `mongo/reserve.rs`): insert a `pending` reservation carrying a claim token (the unique
//! `_id` makes it the one call that takes stock for the order), take each line with one
//! conditional `$inc` (`stock >= qty` on an active product) and record it in the claim with
//! `$push`; on a failed line abandon the claim (one conditional flip) and put back what it
//! recorded; finally flip it to `reserved`. `release` flips `reserved` → `released` in one
//! conditional update (only the winner puts stock back), then `$inc`s each line back. A claim
//! left `pending` by a dead process is undone by the next call for that order once it is stale
//! (30 s). Remaining gap versus SQLite's transaction: a crash between a line's `$inc` and its
//! `$push`, or between a release flip and its `$inc`s, loses that stock until it is corrected
//! by hand; a crash while a claim is being abandoned leaves it `abandoned`, and calls for that
//! order answer 503 until the document is removed by hand. `metadata` is stored as JSON text so any JSON object
//! (keys with `$` or `.`, integers beyond i64) round-trips exactly as in SQLite. The name sort
//! uses a stored ASCII-lowercased `name_key`, matching SQLite's `COLLATE NOCASE`.

mod docs;
mod reserve;

use super::shapes::StoredProduct;
use super::{ProductStore, ReserveError, Reserved};
use crate::domain::{
    NewProduct, Product, ProductFilter, ProductPatch, Reservation, ReservationLine,
};
use async_trait::async_trait;
use docs::{filter_doc, patch_set, product_indexes, sort_doc};
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use shared::mongo::{Indexes, MongoOptions};
use shared::store::{now_ms, PageRequest, StoreError};

/// The database used when the URL names none.
pub const DEFAULT_DATABASE: &str = "ecommerce_products";

/// Products and reservations in one MongoDB database.
pub struct MongoProductStore {
    db: Database,
    products: Collection<StoredProduct>,
    reservations: Collection<reserve::ReservationDoc>,
    /// Ensured before writes, so the unique SKU index is always there.
    indexes: Indexes,
}

impl MongoProductStore {
    /// Connects to `url` (database from its path, else `ecommerce_products`) and creates the
    /// indexes. An unreachable server does not fail startup (the service then answers 503 and
    /// `/ready` reports it); the indexes are created before the first write instead.
    pub async fn connect(url: &str, opts: MongoOptions) -> Result<Self, StoreError> {
        let db = shared::mongo::connect(url, DEFAULT_DATABASE, crate::SERVICE, opts).await?;
        let store = Self {
            products: db.collection(docs::PRODUCTS),
            reservations: db.collection("reservations"),
            indexes: Indexes::new(&db, product_indexes()),
            db,
        };
        store.indexes.at_startup().await?;
        Ok(store)
    }

    /// Creates the missing indexes once (before any write, so the unique SKU index is there).
    async fn ensure_indexes(&self) -> Result<(), StoreError> {
        self.indexes.ensure().await
    }
}

#[async_trait]
impl ProductStore for MongoProductStore {
    async fn create(&self, new: NewProduct) -> Result<Product, StoreError> {
        self.ensure_indexes().await?;
        let product = new.into_product(shared::ids::new_object_id(), now_ms());
        self.products
            .insert_one(StoredProduct::new(&product)?)
            .await?;
        Ok(product)
    }

    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let found = self.products.find_one(doc! {"_id": id}).await?;
        found.map(Product::try_from).transpose()
    }

    async fn list(
        &self,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<(Vec<Product>, u64), StoreError> {
        let sort = sort_doc(filter.sort);
        shared::mongo::page(&self.products, filter_doc(filter), sort, page).await
    }

    async fn get_active_many(&self, ids: &[String]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: Vec<StoredProduct> = self
            .products
            .find(doc! {"_id": {"$in": ids}, "is_active": true})
            .await?
            .try_collect()
            .await?;
        let mut ordered = Vec::with_capacity(found.len());
        for id in ids {
            if let Some(pos) = found.iter().position(|p| &p.id == id) {
                ordered.push(Product::try_from(found.swap_remove(pos))?);
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
            .map_err(StoreError::from)?;
        updated
            .ok_or(StoreError::NotFound)
            .and_then(Product::try_from)
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
