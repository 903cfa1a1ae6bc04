//! The read cache in Redis: GET / SET PX / DEL, and GET / INCR for generation counters, keys
//! `<prefix>cache:<key>`. Values are binary-safe bytes (stored answers include compressed forms).
//! Failures are `CacheError` (callers read the database).
//!
//! Stale-read safety: a writer bumps a generation after its database write. If that bump fails,
//! entries written under the old generation would still be found by readers, so the failed bump is
//! remembered and every read (`get`, `generation`) and `set` is refused until a retried bump
//! succeeds. Retries run at the start of each call and from a background tick every
//! [`PENDING_RETRY_EVERY`]. The memory of failed bumps is per process: a replica that did not see
//! the failure is only protected by the entries' TTLs.

use super::link::RedisLink;
use crate::cache::{Cache, CacheError};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// How often the background task retries failed generation bumps.
pub const PENDING_RETRY_EVERY: Duration = Duration::from_millis(250);

struct Inner {
    link: RedisLink,
    /// Generation keys whose bump failed and has not been redone yet.
    pending: Mutex<BTreeSet<String>>,
    /// Fast check for `pending` being non-empty.
    has_pending: AtomicBool,
}

/// A cache shared by every replica through Redis.
pub struct RedisCache {
    inner: Arc<Inner>,
}

impl RedisCache {
    /// A cache over `link`. Inside a Tokio runtime this also starts the background task that
    /// retries failed bumps (it ends when the cache is dropped); outside one, retries happen only
    /// on calls.
    pub fn new(link: RedisLink) -> Self {
        let inner = Arc::new(Inner {
            link,
            pending: Mutex::new(BTreeSet::new()),
            has_pending: AtomicBool::new(false),
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(retry_pending_bumps(Arc::downgrade(&inner)));
        }
        Self { inner }
    }

    /// Whether a failed generation bump is waiting to be redone (reads are refused meanwhile).
    pub fn has_pending_bump(&self) -> bool {
        self.inner.has_pending.load(Ordering::Acquire)
    }
}

async fn retry_pending_bumps(inner: Weak<Inner>) {
    let mut tick = tokio::time::interval(PENDING_RETRY_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if inner.has_pending.load(Ordering::Acquire) {
            // Failure is already remembered; the next tick tries again.
            let _ = inner.redo_pending().await;
        }
    }
}

impl Inner {
    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember_failed_bump(&self, key: &str) {
        let mut p = self.pending();
        p.insert(key.to_string());
        self.has_pending.store(true, Ordering::Release);
    }

    fn forget_bump(&self, key: &str) {
        let mut p = self.pending();
        p.remove(key);
        self.has_pending.store(!p.is_empty(), Ordering::Release);
    }

    async fn incr(&self, key: &str) -> Result<u64, CacheError> {
        let k = self.link.key("cache", key);
        self.link
            .run(
                |mut c| async move { ::redis::cmd("INCR").arg(k).query_async::<u64>(&mut c).await },
            )
            .await
            .map_err(|e| CacheError(e.to_string()))
    }

    /// Redoes every failed bump; `Ok` once none is left.
    async fn redo_pending(&self) -> Result<(), CacheError> {
        if !self.has_pending.load(Ordering::Acquire) {
            return Ok(());
        }
        let keys: Vec<String> = self.pending().iter().cloned().collect();
        for key in keys {
            match self.incr(&key).await {
                Ok(_) => self.forget_bump(&key),
                Err(e) => {
                    return Err(CacheError(format!(
                        "a failed generation bump is still pending ({e})"
                    )))
                }
            }
        }
        Ok(())
    }
}

impl RedisCache {
    /// `GET` of cache key `key` (after redoing invalidations that failed earlier), as `T`.
    async fn read<T: ::redis::FromRedisValue + Send>(&self, key: &str) -> Result<T, CacheError> {
        self.inner.redo_pending().await?;
        let k = self.inner.link.key("cache", key);
        self.inner
            .link
            .run(|mut c| async move { ::redis::cmd("GET").arg(k).query_async::<T>(&mut c).await })
            .await
            .map_err(|e| CacheError(e.to_string()))
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let v: Option<Vec<u8>> = self.read(key).await?;
        Ok(v.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.inner.redo_pending().await?;
        let k = self.inner.link.key("cache", key);
        let ms = ttl.as_millis() as u64;
        self.inner
            .link
            .run(|mut c| async move {
                if ms == 0 {
                    // Already expired: like the in-process cache, the key reads as absent.
                    ::redis::cmd("DEL").arg(k).query_async::<()>(&mut c).await
                } else {
                    ::redis::cmd("SET")
                        .arg(k)
                        .arg(&value[..])
                        .arg("PX")
                        .arg(ms)
                        .query_async::<()>(&mut c)
                        .await
                }
            })
            .await
            .map_err(|e| CacheError(e.to_string()))
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let k = self.inner.link.key("cache", key);
        self.inner
            .link
            .run(|mut c| async move { ::redis::cmd("DEL").arg(k).query_async::<()>(&mut c).await })
            .await
            .map_err(|e| CacheError(e.to_string()))
    }

    async fn generation(&self, key: &str) -> Result<u64, CacheError> {
        let g: Option<u64> = self.read(key).await?;
        Ok(g.unwrap_or(0))
    }

    async fn bump(&self, key: &str) -> Result<u64, CacheError> {
        match self.inner.incr(key).await {
            Ok(g) => {
                // This bump also covers an earlier failed one on the same key.
                self.inner.forget_bump(key);
                Ok(g)
            }
            Err(e) => {
                self.inner.remember_failed_bump(key);
                tracing::warn!(key, error = %e, "cache generation bump failed; refusing cache reads until a retry succeeds");
                Err(e)
            }
        }
    }
}
