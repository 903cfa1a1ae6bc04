//! Read-through cache backends (in-process now, Redis for sharing across replicas). Values are
//! bytes (stored answers may be compressed). Invalidation uses generation counters: a writer bumps
//! the generation after its write, readers key entries by the generation they read before going to
//! the database, so a slow reader can never park an old value where later readers look.

use async_trait::async_trait;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A cache backend could not answer (callers then read the database).
#[derive(Debug, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheError(pub String);

/// A byte cache with per-entry TTL and counters.
#[async_trait]
pub trait Cache: Send + Sync {
    /// The value under `key`, if present and fresh.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// The counter under `key` (0 when absent).
    async fn generation(&self, key: &str) -> Result<u64, CacheError>;
    /// Increments the counter under `key` and returns the new value.
    async fn bump(&self, key: &str) -> Result<u64, CacheError>;
}

/// Bytes the default in-process cache holds at most (keys and values, plus a fixed overhead per
/// entry); the least useful entries are evicted beyond that.
pub const DEFAULT_CAPACITY_BYTES: u64 = 64 * 1024 * 1024;
/// What one entry costs besides its key and value (moka's bookkeeping, the expiry instant).
const ENTRY_OVERHEAD: usize = 96;

/// In-process cache: a moka cache bounded by bytes, plus counters.
pub struct MemoryCache {
    entries: moka::future::Cache<String, (Bytes, Instant)>,
    counters: Mutex<HashMap<String, u64>>,
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::with_capacity_bytes(DEFAULT_CAPACITY_BYTES)
    }
}

impl MemoryCache {
    /// A cache holding at most `max_bytes` (see [`DEFAULT_CAPACITY_BYTES`] for what counts).
    pub fn with_capacity_bytes(max_bytes: u64) -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &String, (value, _): &(Bytes, Instant)| {
                    u32::try_from(key.len() + value.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
                })
                .time_to_live(Duration::from_secs(3600))
                .build(),
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// Bytes held now, as the capacity counts them (after pending evictions have run).
    pub async fn used_bytes(&self) -> u64 {
        self.entries.run_pending_tasks().await;
        self.entries.weighted_size()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        Ok(match self.entries.get(key).await {
            Some((v, until)) if until > Instant::now() => Some(v),
            _ => None,
        })
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.entries
            .insert(key.to_string(), (value, Instant::now() + ttl))
            .await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        self.entries.invalidate(key).await;
        Ok(())
    }

    async fn generation(&self, key: &str) -> Result<u64, CacheError> {
        let map = self
            .counters
            .lock()
            .map_err(|_| CacheError("lock poisoned".into()))?;
        Ok(map.get(key).copied().unwrap_or(0))
    }

    async fn bump(&self, key: &str) -> Result<u64, CacheError> {
        let mut map = self
            .counters
            .lock()
            .map_err(|_| CacheError("lock poisoned".into()))?;
        let v = map.entry(key.to_string()).or_insert(0);
        *v += 1;
        Ok(*v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[tokio::test]
    async fn entries_expire_and_generations_count() {
        let c = MemoryCache::default();
        c.set("a", b("1"), Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.get("a").await.unwrap(), Some(b("1")));
        c.set("b", b("2"), Duration::from_millis(0)).await.unwrap();
        assert_eq!(c.get("b").await.unwrap(), None);
        c.delete("a").await.unwrap();
        assert_eq!(c.get("a").await.unwrap(), None);
        assert_eq!(c.generation("g").await.unwrap(), 0);
        assert_eq!(c.bump("g").await.unwrap(), 1);
        assert_eq!(c.generation("g").await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_hit_is_the_stored_bytes_not_a_copy() {
        let c = MemoryCache::default();
        let value = Bytes::from(vec![7u8; 10_000]);
        c.set("k", value.clone(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(c.get("k").await.unwrap().unwrap().as_ptr(), value.as_ptr());
    }

    #[tokio::test]
    async fn the_capacity_counts_bytes_not_entries() {
        let c = MemoryCache::with_capacity_bytes(1024 * 1024);
        // 200 entries of 20 KB (4 MB) into 1 MiB: most are evicted, and what stays fits.
        for i in 0..200 {
            let value = Bytes::from(vec![0u8; 20_000]);
            c.set(&format!("page:{i}"), value, Duration::from_secs(60))
                .await
                .unwrap();
        }
        let used = c.used_bytes().await;
        assert!(used <= 1024 * 1024, "{used}");
        assert!(used >= 20_000, "{used}");
        // Small entries are not held back by a count: thousands of them fit.
        let small = MemoryCache::with_capacity_bytes(1024 * 1024);
        for i in 0..5000 {
            small
                .set(&format!("p:{i}"), b("{}"), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(small.used_bytes().await > 4000 * 100);
    }
}
