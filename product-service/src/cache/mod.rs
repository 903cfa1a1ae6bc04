//! Read-through caching of the product answers (30 min) and list pages (5 min) as the bytes sent:
//! the JSON envelope plus its gzip and br forms, compressed once when the entry is made, so a hit
//! does no (de)serialisation and no compression. Invalidation by generation: a reader reads the
//! generation before the database and keys its entry by it; every write bumps the generation
//! after the database write, so no read after a write returns the old value. The entries this
//! process wrote under a generation are deleted once a newer one is seen, so under a stream of
//! writes (every order reserves stock) entries no read can reach do not pile up until their TTL or
//! the cache's bound. Cache failures are logged and the database answers instead.

mod entry;

pub use entry::ProductAnswer;

use crate::domain::ProductFilter;
use crate::routes::wire::{list_answer, product_answer};
use crate::store::ProductStore;
use bytes::Bytes;
use shared::cache::Cache;
use shared::encoded::EncodedBody;
use shared::error::Pagination;
use shared::metrics::Metrics;
use shared::store::{PageRequest, StoreError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The counter every product cache key embeds.
pub const GENERATION_KEY: &str = "products:gen";
/// How long a product stays cached.
pub const PRODUCT_TTL: Duration = Duration::from_secs(30 * 60);
/// How long a list page stays cached.
pub const LIST_TTL: Duration = Duration::from_secs(5 * 60);

/// Keys of one generation this process tracks for deletion at most (beyond that they are left
/// to their TTL and the cache's bound).
const TRACKED_KEYS: usize = 1024;

/// The product read cache.
#[derive(Clone)]
pub struct ProductCache {
    cache: Arc<dyn Cache>,
    metrics: Metrics,
    /// The newest generation this process has seen, and the keys it wrote under it.
    written: Arc<Mutex<(u64, Vec<String>)>>,
}

impl ProductCache {
    /// Wraps a cache backend; lookups are counted in `metrics`.
    pub fn new(cache: Arc<dyn Cache>, metrics: Metrics) -> Self {
        Self {
            cache,
            metrics,
            written: Arc::default(),
        }
    }

    /// The answer for the product with `id` (active or not), from the cache or the store.
    pub async fn product(
        &self,
        store: &dyn ProductStore,
        id: &str,
    ) -> Result<Option<ProductAnswer>, StoreError> {
        let generation = self.generation().await;
        let key = generation.map(|g| format!("product:{g}:{id}"));
        if let Some(hit) = self.read(key.as_deref(), ProductAnswer::from_entry).await {
            return Ok(Some(hit));
        }
        let Some(product) = store.get(id).await? else {
            return Ok(None);
        };
        let answer = ProductAnswer {
            active: product.fields.is_active,
            body: encode(key.is_some(), product_answer(&product)),
        };
        if let (Some(key), Some(g)) = (key, generation) {
            self.write(g, key, answer.to_entry(), PRODUCT_TTL).await;
        }
        Ok(Some(answer))
    }

    /// The answer for one page of the product list (active products, or an admin's inactive
    /// ones), from the cache or the store.
    pub async fn list(
        &self,
        store: &dyn ProductStore,
        filter: &ProductFilter,
        page: PageRequest,
    ) -> Result<EncodedBody, StoreError> {
        let generation = self.generation().await;
        let key = generation.map(|g| list_key(g, filter, page));
        if let Some(hit) = self.read(key.as_deref(), EncodedBody::read_from).await {
            return Ok(hit);
        }
        let (items, total) = store.list(filter, page).await?;
        let answer = list_answer(&items, Pagination::new(page.page, page.limit, total));
        let body = encode(key.is_some(), answer);
        if let (Some(key), Some(g)) = (key, generation) {
            self.write(g, key, body.framed(), LIST_TTL).await;
        }
        Ok(body)
    }

    /// Makes every entry cached so far unreachable. Call after each database write.
    pub async fn invalidate(&self) {
        match self.cache.bump(GENERATION_KEY).await {
            // Deleted before the write's answer: the process's own stale entries go at once.
            Ok(g) => delete(&*self.cache, self.superseded(g, None)).await,
            Err(e) => tracing::warn!(error = %e, "product cache generation bump failed"),
        }
    }

    /// Notes that generation `g` exists (and that `key` was written under it); returns the keys
    /// no read can reach any more: those written under an older generation (and `key` itself if
    /// `g` is already superseded).
    fn superseded(&self, g: u64, key: Option<String>) -> Vec<String> {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut stale = if g > written.0 {
            written.0 = g;
            std::mem::take(&mut written.1)
        } else {
            Vec::new()
        };
        match key {
            Some(k) if g < written.0 => stale.push(k),
            Some(k) if written.1.len() < TRACKED_KEYS => written.1.push(k),
            _ => {}
        }
        stale
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

    async fn write(&self, generation: u64, key: String, entry: Bytes, ttl: Duration) {
        match self.cache.set(&key, entry, ttl).await {
            Ok(()) => {
                let stale = self.superseded(generation, Some(key));
                if !stale.is_empty() {
                    // In the background: a read does not wait for another replica's leftovers.
                    let cache = self.cache.clone();
                    tokio::spawn(async move { delete(&*cache, stale).await });
                }
            }
            Err(e) => tracing::warn!(error = %e, "product cache write failed"),
        }
    }
}

/// Deletes `keys` (a failure is left to the entries' TTL).
async fn delete(cache: &dyn Cache, keys: Vec<String>) {
    for key in keys {
        if let Err(e) = cache.delete(&key).await {
            tracing::debug!(error = %e, "stale product cache entry not deleted");
            return;
        }
    }
}

/// The key of a list page: the generation, the filter in a stable text form, the page.
fn list_key(generation: u64, f: &ProductFilter, page: PageRequest) -> String {
    let (min, max) = (f.min_price_cents, f.max_price_cents);
    let filter = serde_json::json!([f.category, min, max, f.search, f.sort.as_str(), f.is_active]);
    let (number, size) = (page.page, page.limit);
    format!("products:{generation}:list:{filter}:{number}:{size}")
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

    /// Entries of a superseded generation are deleted, not left to their TTL: after a write only
    /// the current generation's entries remain.
    #[tokio::test]
    async fn entries_of_a_superseded_generation_are_deleted() {
        let store = SqliteProductStore::connect("sqlite::memory:")
            .await
            .unwrap();
        let backend = Arc::new(MemoryCache::default());
        let cache = ProductCache::new(
            backend.clone(),
            Metrics::new(crate::SERVICE, env!("CARGO_PKG_VERSION")),
        );
        let p = store.create(new_product()).await.unwrap();
        let page = PageRequest { page: 1, limit: 20 };
        let filter = ProductFilter::default();
        cache.product(&store, &p.id).await.unwrap();
        cache.list(&store, &filter, page).await.unwrap();
        let product_key = format!("product:0:{}", p.id);
        assert!(backend.get(&product_key).await.unwrap().is_some());
        cache.invalidate().await;
        assert!(backend.get(&product_key).await.unwrap().is_none());
        assert_eq!(cache.written.lock().unwrap().1.len(), 0);
        // Read again under the new generation: cached, and tracked for the next write.
        cache.product(&store, &p.id).await.unwrap();
        assert!(backend
            .get(&format!("product:1:{}", p.id))
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            *cache.written.lock().unwrap(),
            (1, vec![format!("product:1:{}", p.id)])
        );
        // Another replica writes (bumps the shared generation): this process learns of it at its
        // next read, and deletes its generation-1 entry in the background.
        backend.bump(GENERATION_KEY).await.unwrap();
        cache.product(&store, &p.id).await.unwrap();
        let old = format!("product:1:{}", p.id);
        for _ in 0..1000 {
            if backend.get(&old).await.unwrap().is_none() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(backend.get(&old).await.unwrap().is_none());
        assert_eq!(
            *cache.written.lock().unwrap(),
            (2, vec![format!("product:2:{}", p.id)])
        );
        // A reader that read generation 0 before the write and stores after it: its entry is
        // unreachable, so it is dropped at once.
        let stale = cache.superseded(0, Some("product:0:late".into()));
        assert_eq!(stale, ["product:0:late"]);
    }

    #[tokio::test]
    async fn reads_are_served_from_cache_until_the_generation_is_bumped() {
        let store = SqliteProductStore::connect("sqlite::memory:")
            .await
            .unwrap();
        let metrics = Metrics::new(crate::SERVICE, env!("CARGO_PKG_VERSION"));
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
            Metrics::new(crate::SERVICE, env!("CARGO_PKG_VERSION")),
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
}
