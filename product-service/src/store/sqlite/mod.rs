//! SQLite implementation of `ProductStore` (embedded mode) on `shared::sqlite::Database`: reads on a
//! reader connection, each write in one transaction of its own, migrations as
//! `CREATE … IF NOT EXISTS` run at connect, SKU uniqueness by a unique index.

#[cfg(test)]
mod plans;
mod reserve;

use super::shapes::to_json_text;
use super::{ProductStore, ReserveError, Reserved};
use crate::domain::{
    NewProduct, Product, ProductFilter, ProductPatch, Reservation, ReservationLine, SortOrder,
};
use async_trait::async_trait;
use rusqlite::params;
use shared::sqlite::{first, Database, Query};
use shared::store::{now_ms, PageRequest, StoreError};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS products (
    _id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    stock INTEGER NOT NULL CHECK (stock >= 0),
    category TEXT NOT NULL,
    sku TEXT NOT NULL,
    images TEXT NOT NULL,
    is_active INTEGER NOT NULL,
    metadata TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS products_sku ON products (sku);
-- One index per sort key of the list (active or inactive products), with and without a category:
-- filter columns, then the sort key, then `_id` breaking ties, so a page is read in order, either
-- way, and stops at its limit (a price range is a range of the price indexes). They replace
-- single-column indexes of older versions.
DROP INDEX IF EXISTS products_active_created;
DROP INDEX IF EXISTS products_category;
DROP INDEX IF EXISTS products_price;
CREATE INDEX IF NOT EXISTS products_created ON products (is_active, created_at, _id);
CREATE INDEX IF NOT EXISTS products_by_price ON products (is_active, price_cents, _id);
CREATE INDEX IF NOT EXISTS products_by_name ON products (is_active, name COLLATE NOCASE, _id);
CREATE INDEX IF NOT EXISTS products_category_created
    ON products (is_active, category, created_at, _id);
CREATE INDEX IF NOT EXISTS products_category_price
    ON products (is_active, category, price_cents, _id);
CREATE INDEX IF NOT EXISTS products_category_name
    ON products (is_active, category, name COLLATE NOCASE, _id);
CREATE TABLE IF NOT EXISTS reservations (
    order_id TEXT PRIMARY KEY NOT NULL,
    status TEXT NOT NULL,
    items TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
"#;

/// Products and reservations in one SQLite database.
#[derive(Clone)]
pub struct SqliteProductStore {
    db: Database,
}

impl SqliteProductStore {
    /// Opens `url` and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = Database::open(url).await?;
        db.write(|tx| Ok(tx.execute_batch(SCHEMA)?)).await?;
        Ok(Self { db })
    }
}

impl From<rusqlite::Error> for ReserveError {
    fn from(e: rusqlite::Error) -> Self {
        ReserveError::Store(e.into())
    }
}

fn push_filter(q: &mut Query, f: &ProductFilter) {
    q.push(" WHERE is_active = ").bind(f.is_active);
    if let Some(c) = &f.category {
        q.push(" AND category = ").bind(c.clone());
    }
    if let Some(min) = f.min_price_cents {
        q.push(" AND price_cents >= ").bind(min);
    }
    if let Some(max) = f.max_price_cents {
        q.push(" AND price_cents <= ").bind(max);
    }
    if let Some(s) = &f.search {
        let pattern = format!("%{}%", escape_like(s));
        q.push(" AND (name LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR description LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

fn order_by(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::CreatedAsc => " ORDER BY created_at ASC, _id ASC",
        SortOrder::CreatedDesc => " ORDER BY created_at DESC, _id DESC",
        SortOrder::PriceAsc => " ORDER BY price_cents ASC, _id ASC",
        SortOrder::PriceDesc => " ORDER BY price_cents DESC, _id DESC",
        SortOrder::NameAsc => " ORDER BY name COLLATE NOCASE ASC, _id ASC",
        SortOrder::NameDesc => " ORDER BY name COLLATE NOCASE DESC, _id DESC",
    }
}

/// The total and the page of a list.
fn list_queries(filter: &ProductFilter, page: PageRequest) -> (Query, Query) {
    let mut count = Query::new("SELECT COUNT(*) FROM products");
    push_filter(&mut count, filter);
    let mut q = Query::new("SELECT * FROM products");
    push_filter(&mut q, filter);
    q.push(order_by(filter.sort)).page(page);
    (count, q)
}

/// The active products among `ids` (at least one), in no particular order.
fn active_many_query(ids: &[String]) -> Query {
    let mut q = Query::new("SELECT * FROM products WHERE is_active = 1 AND _id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.clone());
    }
    q.push(")");
    q
}

/// Escapes `%`, `_` and `\` so that `s` matches literally in `LIKE … ESCAPE '\'`.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl ProductStore for SqliteProductStore {
    async fn create(&self, new: NewProduct) -> Result<Product, StoreError> {
        let product = new.into_product(shared::ids::new_object_id(), now_ms());
        let metadata = product
            .fields
            .metadata
            .as_ref()
            .map(|m| m.as_json_text().to_owned());
        let images = to_json_text(&product.fields.images)?;
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO products (_id, name, description, price_cents, stock, category, \
                     sku, images, is_active, metadata, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![
                    product.id,
                    product.fields.name,
                    product.fields.description,
                    product.fields.price_cents,
                    product.fields.stock,
                    product.fields.category,
                    product.fields.sku,
                    images,
                    product.fields.is_active,
                    metadata,
                    product.created_at,
                    product.updated_at,
                ])?;
                Ok(product)
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        self.db
            .read(|conn| first(conn, "SELECT * FROM products WHERE _id = ?", [id]))
            .await
    }

    async fn list(
        &self,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<(Vec<Product>, u64), StoreError> {
        let (count, rows) = list_queries(filter, page);
        self.db
            .read(|conn| shared::sqlite::page(conn, &count, &rows))
            .await
    }

    async fn get_active_many(&self, ids: &[String]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let q = active_many_query(ids);
        let mut found: Vec<Product> = self.db.read(|conn| q.rows(conn)).await?;
        let mut ordered = Vec::with_capacity(found.len());
        for id in ids {
            if let Some(pos) = found.iter().position(|p| &p.id == id) {
                ordered.push(found.swap_remove(pos));
            }
        }
        Ok(ordered)
    }

    async fn update(&self, id: &str, patch: ProductPatch) -> Result<Product, StoreError> {
        let images = patch.images.as_ref().map(to_json_text).transpose()?;
        let metadata = patch.metadata.as_ref().map(|m| m.as_json_text().to_owned());
        let now = now_ms();
        let id = id.to_owned();
        let updated = self
            .db
            .write(move |tx| {
                first(
                    tx,
                    "UPDATE products SET name = COALESCE(?, name), \
                     description = COALESCE(?, description), \
                     price_cents = COALESCE(?, price_cents), stock = COALESCE(?, stock), \
                     category = COALESCE(?, category), sku = COALESCE(?, sku), \
                     images = COALESCE(?, images), is_active = COALESCE(?, is_active), \
                     metadata = COALESCE(?, metadata), updated_at = ? \
                     WHERE _id = ? RETURNING *",
                    params![
                        patch.name,
                        patch.description,
                        patch.price_cents,
                        patch.stock,
                        patch.category,
                        patch.sku,
                        images,
                        patch.is_active,
                        metadata,
                        now,
                        id,
                    ],
                )
            })
            .await?;
        updated.ok_or(StoreError::NotFound)
    }

    async fn reserve(
        &self,
        order_id: &str,
        lines: &[ReservationLine],
    ) -> Result<Reserved, ReserveError> {
        reserve::reserve(&self.db, order_id, lines).await
    }

    async fn release(&self, order_id: &str) -> Result<bool, ReserveError> {
        reserve::release(&self.db, order_id).await
    }

    async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError> {
        self.db.read(|conn| reserve::load(conn, order_id)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("plain"), "plain");
    }
}
