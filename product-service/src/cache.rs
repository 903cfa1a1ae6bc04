//! Read-through caching of the product answers (30 min) and list pages (5 min) as the bytes sent:
//! the JSON envelope plus its gzip and br forms, compressed once when the entry is made, so a hit
//! does no (de)serialisation and no compression. Invalidation by generation: a reader reads the
//! generation before the database and keys its entry by it; every write bumps the generation
//! after the database write, so no read after a write returns the old value. Cache failures are
//! logged and the database answers instead.

use crate::domain::ProductFilter;
use crate::routes::wire::{list_answer, product_answer};
use crate::store::ProductStore;
use bytes::{BufMut, Bytes, BytesMut};
use shared::cache::Cache;
use shared::encoded::EncodedBody;
use shared::error::Pagination;
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

/// The `GET /api/products/:id` answer of one product, and whether anyone may see it (inactive
/// products are shown to admins only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductAnswer {
    /// The product is active.
    pub active: bool,
    /// The `ok` envelope around the product JSON.
    pub body: EncodedBody,
}

impl ProductAnswer {
    /// Entry layout: one byte (1 active, 0 not), then the body's framing.
    fn to_entry(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(1 + self.body.framed_len());
        out.put_u8(u8::from(self.active));
        self.body.write_to(&mut out);
        out.freeze()
    }

    fn from_entry(entry: Bytes) -> Option<Self> {
        let active = match entry.first()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some(Self {
            active,
            body: EncodedBody::read_from(entry.slice(1..))?,
        })
    }
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

    /// The answer for the product with `id` (active or not), from the cache or the store.
    pub async fn product(
        &self,
        store: &dyn ProductStore,
        id: &str,
    ) -> Result<Option<ProductAnswer>, StoreError> {
        let key = self.generation().await.map(|g| format!("product:{g}:{id}"));
        if let Some(hit) = self.read(key.as_deref(), ProductAnswer::from_entry).await {
            return Ok(Some(hit));
        }
        let Some(product) = store.get(id).await? else {
            return Ok(None);
        };
        let answer = ProductAnswer {
            active: product.is_active,
            body: encode(key.is_some(), product_answer(&product)),
        };
        if let Some(key) = &key {
            self.write(key, answer.to_entry(), PRODUCT_TTL).await;
        }
        Ok(Some(answer))
    }

    /// The answer for one page of the active product list, from the cache or the store.
    pub async fn list(
        &self,
        store: &dyn ProductStore,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<EncodedBody, StoreError> {
        let key = self.generation().await.map(|g| {
            format!(
                "products:{g}:list:{}:{}:{}",
                filter.cache_key(),
                page.page,
                page.limit
            )
        });
        if let Some(hit) = self.read(key.as_deref(), EncodedBody::read_from).await {
            return Ok(hit);
        }
        let (items, total) = store.list(filter, page).await?;
        let answer = list_answer(&items, Pagination::new(page.page, page.limit, total));
        let body = encode(key.is_some(), answer);
        if let Some(key) = &key {
            self.write(key, body.framed(), LIST_TTL).await;
        }
        Ok(body)
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

    async fn read<T>(&self, key: Option<&str>, decode: fn(Bytes) -> Option<T>) -> Option<T> {
        let found = match self.cache.get(key?).await {
            Ok(raw) => raw.and_then(decode),
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

    async fn write(&self, key: &str, entry: Bytes, ttl: Duration) {
        if let Err(e) = self.cache.set(key, entry, ttl).await {
            tracing::warn!(error = %e, "product cache write failed");
        }
    }
}

/// The stored forms when the answer will be cached; otherwise the bytes alone (the compression
/// layer then compresses them for the one request that takes them).
fn encode(cached: bool, identity: Bytes) -> EncodedBody {
    if cached {
        EncodedBody::new(identity)
    } else {
        EncodedBody::uncompressed(identity)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::{NewProduct, ProductPatch};
    use crate::store::SqliteProductStore;
    use serde_json::Value;
    use shared::cache::MemoryCache;
    use shared::encoded::Coding;

    fn json(body: &EncodedBody) -> Value {
        serde_json::from_slice(body.identity()).unwrap()
    }

    fn name(body: &EncodedBody) -> String {
        json(body)["data"]["name"].as_str().unwrap().to_string()
    }

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
            name(&cache.product(&store, &p.id).await.unwrap().unwrap().body),
            "Lamp"
        );
        assert_eq!(
            json(&cache.list(&store, &filter, page).await.unwrap())["pagination"]["total"],
            1
        );
        // A write behind the cache's back is not seen: the entries are really cached.
        let patch = ProductPatch {
            name: Some("Desk lamp".into()),
            ..Default::default()
        };
        store.update(&p.id, patch).await.unwrap();
        assert_eq!(
            name(&cache.product(&store, &p.id).await.unwrap().unwrap().body),
            "Lamp"
        );
        assert_eq!(
            json(&cache.list(&store, &filter, page).await.unwrap())["data"][0]["name"],
            "Lamp"
        );
        // After the bump every reader sees the new value.
        cache.invalidate().await;
        assert_eq!(
            name(&cache.product(&store, &p.id).await.unwrap().unwrap().body),
            "Desk lamp"
        );
        assert_eq!(
            json(&cache.list(&store, &filter, page).await.unwrap())["data"][0]["name"],
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

    #[tokio::test]
    async fn a_hit_is_the_stored_answer_with_its_compressed_forms() {
        let store = SqliteProductStore::connect("sqlite::memory:")
            .await
            .unwrap();
        let cache = ProductCache::new(
            Arc::new(MemoryCache::default()),
            Metrics::new(crate::SERVICE_NAME),
        );
        for i in 0..10 {
            let new = NewProduct {
                sku: format!("LAMP-{i}"),
                ..new_product()
            };
            store.create(new).await.unwrap();
        }
        let hidden = NewProduct {
            sku: "HIDDEN".into(),
            is_active: false,
            ..new_product()
        };
        let hidden = store.create(hidden).await.unwrap();
        let page = PageRequest { page: 1, limit: 20 };
        let filter = ProductFilter::default();
        let miss = cache.list(&store, &filter, page).await.unwrap();
        assert!(miss.identity().len() > 1024, "{}", miss.identity().len());
        assert!(miss.form(Coding::Gzip).is_some() && miss.form(Coding::Br).is_some());
        // Renamed behind the cache's back: a hit still sends the stored forms, compressed when
        // the entry was made, not forms made again from the database.
        let first = json(&miss)["data"][0]["_id"].as_str().unwrap().to_string();
        let patch = ProductPatch {
            name: Some("Renamed".into()),
            ..Default::default()
        };
        store.update(&first, patch).await.unwrap();
        let hit = cache.list(&store, &filter, page).await.unwrap();
        assert_eq!(hit, miss);
        let gzip = hit.form(Coding::Gzip).unwrap();
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut unzipped)
            .unwrap();
        assert_eq!(unzipped, miss.identity().as_ref());
        assert!(!String::from_utf8(unzipped).unwrap().contains("Renamed"));
        // An inactive product's entry says so (only admins may be shown it).
        for _ in 0..2 {
            let answer = cache.product(&store, &hidden.id).await.unwrap().unwrap();
            assert!(!answer.active);
            assert_eq!(name(&answer.body), "Lamp");
        }
    }

    #[test]
    fn entries_that_do_not_parse_are_misses() {
        let body = EncodedBody::new(Bytes::from_static(b"{\"success\":true}"));
        let answer = ProductAnswer { active: true, body };
        assert_eq!(
            ProductAnswer::from_entry(answer.to_entry()),
            Some(answer.clone())
        );
        let mut bad = answer.to_entry().to_vec();
        bad[0] = 7;
        assert_eq!(ProductAnswer::from_entry(Bytes::from(bad)), None);
        assert_eq!(ProductAnswer::from_entry(Bytes::new()), None);
        let truncated = answer.to_entry().slice(..5);
        assert_eq!(ProductAnswer::from_entry(truncated), None);
    }
}
