//! SQLite implementation of `ProductStore` (embedded mode): plain sqlx queries, migrations as
//! `CREATE … IF NOT EXISTS` run at connect, SKU uniqueness by a unique index.

#[cfg(test)]
mod plans;
mod reserve;

use super::{ProductStore, ReserveError, Reserved};
use crate::domain::{
    NewProduct, Product, ProductFilter, ProductPatch, Reservation, ReservationLine, SortOrder,
};
use async_trait::async_trait;
use shared::sqlite::SqlitePool;
use shared::store::{now_ms, sqlite_pool, PageRequest, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

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
-- One index per sort of the active list, with and without a category: filter columns, then the
-- sort key, then `_id` breaking ties, so a page is read in order and stops at its limit (a price
-- range is a range of the price indexes). They replace single-column indexes of older versions.
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
    pool: SqlitePool,
}

impl SqliteProductStore {
    /// Opens `url` and creates the tables.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = sqlite_pool(url).await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }
}

impl From<sqlx::Error> for ReserveError {
    fn from(e: sqlx::Error) -> Self {
        ReserveError::Store(e.into())
    }
}

fn product_from_row(row: &SqliteRow) -> Result<Product, StoreError> {
    let images: String = row.try_get("images")?;
    let metadata: Option<String> = row.try_get("metadata")?;
    Ok(Product {
        id: row.try_get("_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        price_cents: row.try_get("price_cents")?,
        stock: row.try_get("stock")?,
        category: row.try_get("category")?,
        sku: row.try_get("sku")?,
        images: serde_json::from_str(&images)?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
        metadata: metadata.map(|m| serde_json::from_str(&m)).transpose()?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn push_filter(q: &mut QueryBuilder<'_, Sqlite>, f: &ProductFilter) {
    q.push(" WHERE is_active = 1");
    if let Some(c) = &f.category {
        q.push(" AND category = ").push_bind(c.clone());
    }
    if let Some(min) = f.min_price_cents {
        q.push(" AND price_cents >= ").push_bind(min);
    }
    if let Some(max) = f.max_price_cents {
        q.push(" AND price_cents <= ").push_bind(max);
    }
    if let Some(s) = &f.search {
        let pattern = format!("%{}%", crate::domain::product::escape_like(s));
        q.push(" AND (name LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR description LIKE ")
            .push_bind(pattern)
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
    }
}

/// The total and the page of a list.
fn list_queries(
    filter: &ProductFilter,
    page: PageRequest,
) -> (QueryBuilder<'static, Sqlite>, QueryBuilder<'static, Sqlite>) {
    let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM products");
    push_filter(&mut count, filter);
    let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM products");
    push_filter(&mut q, filter);
    q.push(order_by(filter.sort));
    q.push(" LIMIT ").push_bind(page.limit as i64);
    q.push(" OFFSET ").push_bind(page.offset() as i64);
    (count, q)
}

fn to_json_text<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(StoreError::from)
}

#[async_trait]
impl ProductStore for SqliteProductStore {
    async fn create(&self, new: NewProduct) -> Result<Product, StoreError> {
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
        let metadata = product.metadata.as_ref().map(to_json_text).transpose()?;
        sqlx::query(
            "INSERT INTO products (_id, name, description, price_cents, stock, category, sku, \
             images, is_active, metadata, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&product.id)
        .bind(&product.name)
        .bind(&product.description)
        .bind(product.price_cents)
        .bind(product.stock)
        .bind(&product.category)
        .bind(&product.sku)
        .bind(to_json_text(&product.images)?)
        .bind(product.is_active)
        .bind(metadata)
        .bind(product.created_at)
        .bind(product.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(product)
    }

    async fn get(&self, id: &str) -> Result<Option<Product>, StoreError> {
        let row = sqlx::query("SELECT * FROM products WHERE _id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(product_from_row).transpose()
    }

    async fn list(
        &self,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<(Vec<Product>, u64), StoreError> {
        let (mut count, mut q) = list_queries(filter, page);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let rows = q.build().fetch_all(&self.pool).await?;
        let products = rows
            .iter()
            .map(product_from_row)
            .collect::<Result<_, _>>()?;
        Ok((products, total.max(0) as u64))
    }

    async fn get_active_many(&self, ids: &[String]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q =
            QueryBuilder::<Sqlite>::new("SELECT * FROM products WHERE is_active = 1 AND _id IN (");
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(id.clone());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.pool).await?;
        let mut found: Vec<Product> = rows
            .iter()
            .map(product_from_row)
            .collect::<Result<_, _>>()?;
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
        let metadata = patch.metadata.as_ref().map(to_json_text).transpose()?;
        let row = sqlx::query(
            "UPDATE products SET name = COALESCE(?, name), description = COALESCE(?, description), \
             price_cents = COALESCE(?, price_cents), stock = COALESCE(?, stock), \
             category = COALESCE(?, category), sku = COALESCE(?, sku), images = COALESCE(?, images), \
             is_active = COALESCE(?, is_active), metadata = COALESCE(?, metadata), updated_at = ? \
             WHERE _id = ? RETURNING *",
        )
        .bind(patch.name)
        .bind(patch.description)
        .bind(patch.price_cents)
        .bind(patch.stock)
        .bind(patch.category)
        .bind(patch.sku)
        .bind(images)
        .bind(patch.is_active)
        .bind(metadata)
        .bind(now_ms())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(product_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound)
    }

    async fn reserve(
        &self,
        order_id: &str,
        lines: &[ReservationLine],
    ) -> Result<Reserved, ReserveError> {
        reserve::reserve(&self.pool, order_id, lines).await
    }

    async fn release(&self, order_id: &str) -> Result<bool, ReserveError> {
        reserve::release(&self.pool, order_id).await
    }

    async fn reservation(&self, order_id: &str) -> Result<Option<Reservation>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        reserve::load(&mut conn, order_id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
