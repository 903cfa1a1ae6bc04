//! Redis backends for cache, rate limits and sessions, shared by every replica.
//!
//! Every backend talks to Redis through one [`RedisLink`]: a `redis::aio::ConnectionManager`
//! (reconnecting, multiplexed) built lazily with 250 ms response and connection timeouts, and every
//! call additionally wrapped in a 250 ms deadline, so a hung Redis (SIGSTOP, `CLIENT PAUSE`) makes
//! each call give up within 250 ms.
//!
//! Startup never waits for Redis: the link only builds its manager on first use, so a service
//! whose Redis is down at startup starts degraded and recovers on its own. After a connection
//! failure the link drops the manager and refuses calls for [`RETRY_AFTER_FAILURE`] (answering at
//! once instead of making every request pay the timeout); the first call after that builds a fresh
//! manager and tries again. Errors Redis itself answers (e.g. a wrong type) do not count as an
//! outage. How each backend degrades:
//! - [`RedisRateLimiter`] falls back to an in-process limiter and goes back to Redis once it answers;
//! - [`RedisCache`] returns `CacheError` (callers read the database), and refuses reads after a
//!   failed generation bump until a retried bump succeeds;
//! - [`RedisSessions`] returns `SessionError` (callers fail closed).

mod cache;
mod limiter;
mod link;
mod sessions;

pub use cache::RedisCache;
pub use limiter::{RedisRateLimiter, RATE_LIMIT_SCRIPT};
pub use link::{RedisError, RedisLink, REDIS_TIMEOUT, RETRY_AFTER_FAILURE};
pub use sessions::RedisSessions;

use crate::platform::Backends;
use std::sync::Arc;

/// Default `REDIS_KEY_PREFIX`.
pub const DEFAULT_KEY_PREFIX: &str = "ecommerce:";

/// The three Redis backends over one link, plus the link for health checks.
#[derive(Clone)]
pub struct RedisBackends {
    /// Read cache (`<prefix>cache:<key>`).
    pub cache: Arc<RedisCache>,
    /// Rate limiter (`<prefix>rl:<key>`).
    pub limiter: Arc<RedisRateLimiter>,
    /// Sessions (`<prefix>session:<sid>`, `<prefix>revoked:<sid>`).
    pub sessions: Arc<RedisSessions>,
    /// The shared connection (for [`RedisHealth`]).
    pub link: RedisLink,
}

impl RedisBackends {
    /// Builds the backends for `url` with keys under `prefix`. Does not connect (see the module
    /// docs); fails only on a malformed URL. Call inside a Tokio runtime: the cache starts a small
    /// background task that retries failed generation bumps.
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisError> {
        let link = RedisLink::new(url, prefix)?;
        Ok(Self {
            cache: Arc::new(RedisCache::new(link.clone())),
            limiter: Arc::new(RedisRateLimiter::new(link.clone())),
            sessions: Arc::new(RedisSessions::new(link.clone())),
            link,
        })
    }

    /// These backends as the platform's `Backends`.
    pub fn backends(&self) -> Backends {
        Backends {
            cache: self.cache.clone(),
            limiter: self.limiter.clone(),
            sessions: self.sessions.clone(),
            redis: Some(self.health()),
        }
    }

    /// A health reporter over the same link.
    pub fn health(&self) -> RedisHealth {
        RedisHealth(self.link.clone())
    }
}

/// Reports whether Redis answers, for `/health` and `/ready`.
#[derive(Clone)]
pub struct RedisHealth(RedisLink);

impl RedisHealth {
    /// `PING` within 250 ms.
    pub async fn ping(&self) -> bool {
        self.0.ping().await
    }

    /// `"up"` or `"down"`, as `/health` shows it.
    pub async fn status(&self) -> &'static str {
        if self.ping().await {
            "up"
        } else {
            "down"
        }
    }
}
