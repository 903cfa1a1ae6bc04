//! Fixed-window rate limits in Redis: one Lua script per request (INCR, PEXPIRE on the first hit,
//! PTTL), sent as EVALSHA with the script cached by Redis. Falls back to in-process counters while
//! Redis does not answer.

use super::link::RedisLink;
use crate::rate_limit::{MemoryRateLimiter, RateDecision, RateLimitError, RateLimiter, RateRule};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts one hit and returns `{count, pttl}`. A key found without an expiry (which only a
/// foreign write could cause) gets the window again so it can never count forever.
pub const RATE_LIMIT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// Limits shared by every replica (keys `<prefix>rl:<key>`).
pub struct RedisRateLimiter {
    link: RedisLink,
    script: Arc<::redis::Script>,
    fallback: MemoryRateLimiter,
    degraded: AtomicBool,
}

impl RedisRateLimiter {
    /// A limiter over `link`.
    pub fn new(link: RedisLink) -> Self {
        Self {
            link,
            script: Arc::new(::redis::Script::new(RATE_LIMIT_SCRIPT)),
            fallback: MemoryRateLimiter::default(),
            degraded: AtomicBool::new(false),
        }
    }

    /// Whether the last hit was counted in process because Redis did not answer.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, rule: RateRule) -> Result<RateDecision, RateLimitError> {
        let redis_key = self.link.key("rl", key);
        let window_ms = (rule.window.as_millis() as u64).max(1);
        let script = self.script.clone();
        let counted = self
            .link
            .run(|mut c| async move {
                script
                    .key(redis_key)
                    .arg(window_ms)
                    .invoke_async::<(i64, i64)>(&mut c)
                    .await
            })
            .await;
        match counted {
            Ok((count, ttl_ms)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limits counted in redis again");
                }
                let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
                let reset_after = Duration::from_millis(ttl_ms.clamp(0, window_ms as i64) as u64);
                Ok(RateDecision {
                    allowed: count <= rule.count,
                    limit: rule.count,
                    remaining: rule.count.saturating_sub(count),
                    reset_after,
                    window: rule.window,
                })
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "redis rate limiter unavailable; counting in process until it answers");
                }
                self.fallback.hit(key, rule).await
            }
        }
    }
}
