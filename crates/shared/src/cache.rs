//! Read-through cache backends (in-process now, Redis for sharing across replicas). Invalidation
//! uses generation counters: a writer bumps the generation after its write, readers key entries by
//! the generation they read before going to the database, so a slow reader can never park an old
//! value where later readers look.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A cache backend could not answer (callers then read the database).
#[derive(Debug, thiserror::Error)]
#[error("cache unavailable: {0}")]
pub struct CacheError(pub String);

/// A string cache with per-entry TTL and counters.
#[async_trait]
pub trait Cache: Send + Sync {
    /// The value under `key`, if present and fresh.
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError>;
    /// Stores `value` under `key` for `ttl`.
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError>;
    /// Removes `key`.
    async fn delete(&self, key: &str) -> Result<(), CacheError>;
    /// The counter under `key` (0 when absent).
    async fn generation(&self, key: &str) -> Result<u64, CacheError>;
    /// Increments the counter under `key` and returns the new value.
    async fn bump(&self, key: &str) -> Result<u64, CacheError>;
}

/// In-process cache: a bounded moka cache plus counters.
pub struct MemoryCache {
    entries: moka::future::Cache<String, (Arc<str>, Instant)>,
    counters: Mutex<HashMap<String, u64>>,
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(50_000)
                .time_to_live(Duration::from_secs(3600))
                .build(),
            counters: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        Ok(match self.entries.get(key).await {
            Some((v, until)) if until > Instant::now() => Some(v.to_string()),
            _ => None,
        })
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        self.entries
            .insert(key.to_string(), (Arc::from(value), Instant::now() + ttl))
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

    #[tokio::test]
    async fn entries_expire_and_generations_count() {
        let c = MemoryCache::default();
        c.set("a", "1", Duration::from_secs(60)).await.unwrap();
        assert_eq!(c.get("a").await.unwrap().as_deref(), Some("1"));
        c.set("b", "2", Duration::from_millis(0)).await.unwrap();
        assert_eq!(c.get("b").await.unwrap(), None);
        c.delete("a").await.unwrap();
        assert_eq!(c.get("a").await.unwrap(), None);
        assert_eq!(c.generation("g").await.unwrap(), 0);
        assert_eq!(c.bump("g").await.unwrap(), 1);
        assert_eq!(c.generation("g").await.unwrap(), 1);
    }
}
