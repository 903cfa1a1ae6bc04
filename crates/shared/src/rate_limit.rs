//! Rate limiting: a backend trait (in-process now, Redis for shared limits across replicas), the
//! `<count>/<seconds>` rule format, and the JSON 429 with `Retry-After` and `RateLimit-*` headers.

use crate::error::ApiError;
use async_trait::async_trait;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A limit: `count` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    /// Requests allowed per window.
    pub count: u32,
    /// Window length.
    pub window: Duration,
}

impl FromStr for RateRule {
    type Err = String;
    /// Parses `<count>/<seconds>`, e.g. `5/60`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (count, secs) = s
            .split_once('/')
            .ok_or_else(|| "expected <count>/<seconds>".to_string())?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| "count must be a positive integer".to_string())?;
        let secs: u64 = secs
            .trim()
            .parse()
            .map_err(|_| "seconds must be a positive integer".to_string())?;
        if count == 0 || secs == 0 {
            return Err("count and seconds must be positive".into());
        }
        Ok(RateRule {
            count,
            window: Duration::from_secs(secs),
        })
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The rule's count.
    pub limit: u32,
    /// Requests left in this window.
    pub remaining: u32,
    /// Time until the window resets.
    pub reset_after: Duration,
    /// The rule's window.
    pub window: Duration,
}

/// A limiter backend could not answer.
#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable: {0}")]
pub struct RateLimitError(pub String);

/// Counts requests per key in fixed windows.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` under `rule` and says whether it is allowed.
    async fn hit(&self, key: &str, rule: RateRule) -> Result<RateDecision, RateLimitError>;

    /// Counts at once when the backend needs no I/O (in-process counters); `None` means "use
    /// [`RateLimiter::hit`]". Saves the boxed future on the gateway's hot path.
    fn hit_now(&self, _key: &str, _rule: RateRule) -> Option<RateDecision> {
        None
    }
}

/// Counter shards of the in-process limiter (fewer threads waiting on one lock).
const SHARDS: usize = 16;
/// Counters kept per shard before expired windows are swept out.
const SWEEP_AT: usize = 100_000 / SHARDS;

/// In-process fixed-window counters (one process; use Redis to share across replicas).
pub struct MemoryRateLimiter {
    shards: [Mutex<HashMap<String, (Instant, u32)>>; SHARDS],
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl MemoryRateLimiter {
    /// Counts one request for `key` under `rule`.
    pub fn count(&self, key: &str, rule: RateRule) -> RateDecision {
        // FNV-1a picks the shard; the map itself keeps its keyed hasher.
        let shard = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let now = Instant::now();
        // A panic while holding the lock leaves plain counters: keep using them.
        let mut map = self.shards[(shard % SHARDS as u64) as usize]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(3600));
        }
        // Look up by `&str`: counting a known key hashes it once and allocates nothing.
        let (start, hits) = match map.get_mut(key) {
            Some(entry) => {
                if now.duration_since(entry.0) >= rule.window {
                    *entry = (now, 0);
                }
                entry.1 = entry.1.saturating_add(1);
                *entry
            }
            None => {
                map.insert(key.to_string(), (now, 1));
                (now, 1)
            }
        };
        RateDecision {
            allowed: hits <= rule.count,
            limit: rule.count,
            remaining: rule.count.saturating_sub(hits),
            reset_after: rule.window.saturating_sub(now.duration_since(start)),
            window: rule.window,
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(&self, key: &str, rule: RateRule) -> Result<RateDecision, RateLimitError> {
        Ok(self.count(key, rule))
    }

    fn hit_now(&self, key: &str, rule: RateRule) -> Option<RateDecision> {
        Some(self.count(key, rule))
    }
}

/// Whole seconds, rounded up, at least 1 (`Retry-After`, `RateLimit-Reset`).
pub fn secs_ceil(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The `RateLimit-Policy` and `RateLimit-Limit` values of one rule, made once and reused.
#[derive(Debug, Clone)]
pub struct RuleHeaders {
    rule: RateRule,
    policy: HeaderValue,
    limit: HeaderValue,
}

impl RuleHeaders {
    /// The fixed header values of `rule`.
    pub fn new(rule: RateRule) -> Self {
        let policy = format!("{};w={}", rule.count, rule.window.as_secs());
        Self {
            rule,
            policy: HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("0")),
            limit: HeaderValue::from(rule.count),
        }
    }

    /// The `RateLimit-Policy` value.
    pub fn policy(&self) -> &HeaderValue {
        &self.policy
    }

    /// The `RateLimit-Limit` value.
    pub fn limit(&self) -> &HeaderValue {
        &self.limit
    }

    /// Whether `d` was decided under this rule.
    pub fn matches(&self, d: &RateDecision) -> bool {
        d.limit == self.rule.count && d.window == self.rule.window
    }

    /// The values of the rule `d` was decided under.
    pub fn of(d: &RateDecision) -> Self {
        Self::new(RateRule {
            count: d.limit,
            window: d.window,
        })
    }

    /// Adds the IETF draft-6 `RateLimit-*` headers of `d` (as express-rate-limit sends them);
    /// `d` was decided under this rule.
    pub fn add(&self, headers: &mut HeaderMap, d: &RateDecision) {
        headers.insert(POLICY, self.policy.clone());
        headers.insert(LIMIT, self.limit.clone());
        headers.insert(REMAINING, HeaderValue::from(d.remaining));
        headers.insert(RESET, HeaderValue::from(secs_ceil(d.reset_after)));
    }
}

/// Adds the IETF draft-6 `RateLimit-*` headers of `d` (as express-rate-limit sends them).
pub fn add_headers(headers: &mut HeaderMap, d: &RateDecision) {
    RuleHeaders::of(d).add(headers, d);
}

/// The JSON 429 for a refused request, with `Retry-After` and the `RateLimit-*` headers.
pub fn too_many_requests(d: &RateDecision) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests, please try again later.",
    );
    let mut headers = HeaderMap::new();
    add_headers(&mut headers, d);
    for (name, value) in &headers {
        e = e.with_header(name.clone(), value.clone());
    }
    if let Ok(v) = HeaderValue::from_str(&secs_ceil(d.reset_after).to_string()) {
        e = e.with_header(axum::http::header::RETRY_AFTER, v);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        assert_eq!(
            "5/60".parse::<RateRule>().unwrap(),
            RateRule {
                count: 5,
                window: Duration::from_secs(60)
            }
        );
        assert!("5".parse::<RateRule>().is_err());
        assert!("0/60".parse::<RateRule>().is_err());
    }

    #[tokio::test]
    async fn memory_limiter_allows_count_then_refuses() {
        let l = MemoryRateLimiter::default();
        let rule = RateRule {
            count: 2,
            window: Duration::from_secs(60),
        };
        assert!(l.hit("k", rule).await.unwrap().allowed);
        let second = l.hit("k", rule).await.unwrap();
        assert!(second.allowed);
        assert_eq!(second.remaining, 0);
        let third = l.hit("k", rule).await.unwrap();
        assert!(!third.allowed);
        assert!(l.hit("other", rule).await.unwrap().allowed);
        let mut h = HeaderMap::new();
        add_headers(&mut h, &third);
        assert_eq!(h["ratelimit-policy"], "2;w=60");
        assert_eq!(h["ratelimit-limit"], "2");
        assert_eq!(h["ratelimit-remaining"], "0");
        assert_eq!(h["ratelimit-reset"], "60");
        assert!(RuleHeaders::new(rule).matches(&third));
        let e = too_many_requests(&third);
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(e
            .headers
            .iter()
            .any(|(n, _)| n == axum::http::header::RETRY_AFTER));
    }
}
