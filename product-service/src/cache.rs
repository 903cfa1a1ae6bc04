//! Read-through caching of products (30 min) and list pages (5 min) with generation invalidation:
//! a reader reads the generation before the database and keys its entry by it; every write bumps
//! the generation after the database write, so no read after a write returns the old value.
//! Cache failures are logged and the database answers instead.

use crate::domain::{Product, ProductFilter};
use crate::store::ProductStore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::cache::Cache;
use shared::metrics::Metrics;
use shared::store::{PageRequest, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// The counter every product cache key embeds.
pub const GENERATION_KEY: &str = "products:gen";
/// How long a product stays cached.
pub const PRODUCT_TTL: Duration = Duration::from_secs(30 * 60);
/// How long a list page stays cached.
pub const LIST_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Serialize, Deserialize)]
struct CachedPage {
    items: Vec<Product>,
    total: u64,
}

/// The product read cache.
#[derive(Clone)]
pub struct ProductCache {
    cache: Arc<dyn Cache>,
    metrics: Metrics,
}

impl ProductCache {
    /// Wraps a cache backend; lookups are counted in `metrics`.
    pub fn new(cache: Arc<dyn Cache>, metrics: Metrics) -> Self {
        Self { cache, metrics }
    }

    /// The product with `id` (active or not), from the cache or the store.
    pub async fn product(
        &self,
        store: &dyn ProductStore,
        id: &str,
    ) -> Result<Option<Product>, StoreError> {
        let key = self.generation().await.map(|g| format!("product:{g}:{id}"));
        if let Some(hit) = self.read::<Product>(key.as_deref()).await {
            return Ok(Some(hit));
        }
        let product = store.get(id).await?;
        if let Some(p) = &product {
            self.write(key.as_deref(), p, PRODUCT_TTL).await;
        }
        Ok(product)
    }

    /// One page of the active product list, from the cache or the store.
    pub async fn list(
        &self,
        store: &dyn ProductStore,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<(Vec<Product>, u64), StoreError> {
        let key = self.generation().await.map(|g| {
            format!(
                "products:{g}:list:{}:{}:{}",
                filter.cache_key(),
                page.page,
                page.limit
            )
        });
        if let Some(hit) = self.read::<CachedPage>(key.as_deref()).await {
            return Ok((hit.items, hit.total));
        }
        let (items, total) = store.list(filter, page).await?;
        let cached = CachedPage { items, total };
        self.write(key.as_deref(), &cached, LIST_TTL).await;
        Ok((cached.items, cached.total))
    }

    /// Makes every entry cached so far unreachable. Call after each database write.
    pub async fn invalidate(&self) {
        if let Err(e) = self.cache.bump(GENERATION_KEY).await {
            tracing::warn!(error = %e, "product cache generation bump failed");
        }
    }

    async fn generation(&self) -> Option<u64> {
        match self.cache.generation(GENERATION_KEY).await {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::warn!(error = %e, "product cache unavailable; reading the database");
                None
            }
        }
    }

    async fn read<T: DeserializeOwned>(&self, key: Option<&str>) -> Option<T> {
        let found = match self.cache.get(key?).await {
            Ok(raw) => raw.and_then(|raw| serde_json::from_str(&raw).ok()),
            Err(e) => {
                tracing::warn!(error = %e, "product cache read failed");
                None
            }
        };
        let result = if found.is_some() { "hit" } else { "miss" };
        self.metrics.incr(
            "product_cache_lookups_total",
            "Product cache lookups by result.",
            &[("result", result)],
        );
        found
    }

    async fn write<T: Serialize>(&self, key: Option<&str>, value: &T, ttl: Duration) {
        let (Some(key), Ok(raw)) = (key, serde_json::to_string(value)) else {
            return;
        };
        if let Err(e) = self.cache.set(key, &raw, ttl).await {
            tracing::warn!(error = %e, "product cache write failed");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::{NewProduct, ProductPatch};
    use crate::store::SqliteProductStore;
    use shared::cache::MemoryCache;

    fn new_product() -> NewProduct {
        NewProduct {
            name: "Lamp".into(),
            description: "A lamp".into(),
            price_cents: 1999,
            stock: 3,
            category: "Home".into(),
            sku: "LAMP-1".into(),
            images: vec![],
            is_active: true,
            metadata: None,
        }
    }

    #[tokio::test]
    async fn reads_are_served_from_cache_until_the_generation_is_bumped() {
        let store = SqliteProductStore::connect("sqlite::memory:")
            .await
            .unwrap();
        let metrics = Metrics::new(crate::SERVICE_NAME);
        let cache = ProductCache::new(Arc::new(MemoryCache::default()), metrics.clone());
        let p = store.create(new_product()).await.unwrap();
        let page = PageRequest { page: 1, limit: 20 };
        let filter = ProductFilter::default();
        assert_eq!(
            cache.product(&store, &p.id).await.unwrap().unwrap().name,
            "Lamp"
        );
        assert_eq!(cache.list(&store, &filter, page).await.unwrap().1, 1);
        // A write behind the cache's back is not seen: the entries are really cached.
        let patch = ProductPatch {
            name: Some("Desk lamp".into()),
            ..Default::default()
        };
        store.update(&p.id, patch).await.unwrap();
        assert_eq!(
            cache.product(&store, &p.id).await.unwrap().unwrap().name,
            "Lamp"
        );
        assert_eq!(
            cache.list(&store, &filter, page).await.unwrap().0[0].name,
            "Lamp"
        );
        // After the bump every reader sees the new value.
        cache.invalidate().await;
        assert_eq!(
            cache.product(&store, &p.id).await.unwrap().unwrap().name,
            "Desk lamp"
        );
        assert_eq!(
            cache.list(&store, &filter, page).await.unwrap().0[0].name,
            "Desk lamp"
        );
        let text = metrics.render(&[]);
        assert!(
            text.contains(
                "product_cache_lookups_total{service=\"product-service\",result=\"hit\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "product_cache_lookups_total{service=\"product-service\",result=\"miss\"} 4"
            ),
            "{text}"
        );
    }
}
