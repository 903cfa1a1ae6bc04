//! One contract for the cache, rate-limit and session backends: every check runs against the
//! in-process backends and against Redis (`REDIS_TEST_URL`; skipped when unset, required under
//! `CI=true`), each Redis test under its own key prefix. The "second instance" of a backend is a
//! clone of the same in-process backend (services in one process share it) and a separately built
//! Redis backend on the same server and prefix (replicas share it through Redis).

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod cache;
mod limiter;
mod sessions;

use bytes::Bytes;
use cache::*;
use limiter::*;
use sessions::*;
use shared::cache::{Cache, MemoryCache};
use shared::rate_limit::{MemoryRateLimiter, RateLimiter, RateRule};
use shared::redis::RedisBackends;
use shared::sessions::{MemorySessions, SessionRegistry, SessionState};
use std::sync::Arc;
use std::time::Duration;
use support::eventually;

struct Fixture {
    limiter: Arc<dyn RateLimiter>,
    limiter2: Arc<dyn RateLimiter>,
    cache: Arc<dyn Cache>,
    cache2: Arc<dyn Cache>,
    sessions: Arc<dyn SessionRegistry>,
    sessions2: Arc<dyn SessionRegistry>,
}

fn in_process_fixture() -> Fixture {
    let limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::default());
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::default());
    let sessions: Arc<dyn SessionRegistry> = Arc::new(MemorySessions::default());
    Fixture {
        limiter2: limiter.clone(),
        cache2: cache.clone(),
        sessions2: sessions.clone(),
        limiter,
        cache,
        sessions,
    }
}

/// A Redis fixture plus the server URL and key prefix (to remove the test's keys afterwards).
fn redis_fixture(test: &str) -> Option<(Fixture, String, String)> {
    let url = support::redis_test_url()?;
    let prefix = support::unique_prefix(test);
    let a = RedisBackends::new(&url, &prefix).unwrap();
    let b = RedisBackends::new(&url, &prefix).unwrap();
    let fixture = Fixture {
        limiter: a.limiter,
        limiter2: b.limiter,
        cache: a.cache,
        cache2: b.cache,
        sessions: a.sessions,
        sessions2: b.sessions,
    };
    Some((fixture, url, prefix))
}

macro_rules! contract {
    ($($check:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $check() {
                    super::$check(super::in_process_fixture()).await;
                }
            )*
        }
        mod on_redis {
            $(
                #[tokio::test]
                async fn $check() {
                    if let Some((f, url, prefix)) = super::redis_fixture(stringify!($check)) {
                        super::$check(f).await;
                        // Generation keys have no TTL: leave nothing on a shared test server.
                        crate::support::delete_prefix(&url, &prefix).await;
                    }
                }
            )*
        }
    };
}

contract!(
    limiter_allows_the_count_then_refuses,
    limiter_window_resets,
    limiter_instances_share_one_limit,
    limiter_counts_concurrent_hits_exactly,
    cache_stores_overwrites_and_deletes,
    cache_values_are_binary_safe,
    cache_entries_expire,
    cache_generations_count_and_are_shared,
    sessions_are_live_or_ended_until_their_ttl,
    sessions_are_shared,
);

fn rule(count: u32, window: Duration) -> RateRule {
    RateRule { count, window }
}

/// Redis only: the documented key layout, expiries and the cached limiter script.
#[tokio::test]
async fn redis_keys_follow_the_prefix_layout() {
    use redis::AsyncCommands;
    let Some(url) = support::redis_test_url() else {
        return;
    };
    let prefix = support::unique_prefix("layout");
    let b = RedisBackends::new(&url, &prefix).unwrap();
    b.limiter
        .hit("ip:9", rule(5, Duration::from_secs(30)))
        .await
        .unwrap();
    b.cache
        .set(
            "product:1",
            Bytes::from_static(b"v"),
            Duration::from_secs(40),
        )
        .await
        .unwrap();
    b.cache.bump("gen").await.unwrap();
    b.sessions
        .revoke_session("sid-9", Duration::from_secs(50))
        .await
        .unwrap();
    b.sessions
        .open_session("sid-8", Duration::from_secs(45))
        .await
        .unwrap();
    let mut c = support::direct(&url).await;
    let count: Option<String> = c.get(format!("{prefix}rl:ip:9")).await.unwrap();
    assert_eq!(count.as_deref(), Some("1"));
    let ttl: i64 = c.pttl(format!("{prefix}rl:ip:9")).await.unwrap();
    assert!((29_000..=30_000).contains(&ttl), "{ttl}");
    let cached: Option<String> = c.get(format!("{prefix}cache:product:1")).await.unwrap();
    assert_eq!(cached.as_deref(), Some("v"));
    let ttl: i64 = c.pttl(format!("{prefix}cache:product:1")).await.unwrap();
    assert!((39_000..=40_000).contains(&ttl), "{ttl}");
    let generation: Option<String> = c.get(format!("{prefix}cache:gen")).await.unwrap();
    assert_eq!(generation.as_deref(), Some("1"));
    let ttl: i64 = c.pttl(format!("{prefix}revoked:sid-9")).await.unwrap();
    assert!((49_000..=50_000).contains(&ttl), "{ttl}");
    let ttl: i64 = c.pttl(format!("{prefix}session:sid-8")).await.unwrap();
    assert!((44_000..=45_000).contains(&ttl), "{ttl}");
    // The limiter's script is cached on the server (later hits are a single EVALSHA).
    let sha = redis::Script::new(shared::redis::RATE_LIMIT_SCRIPT)
        .get_hash()
        .to_string();
    let exists: Vec<bool> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(sha)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(exists, vec![true]);
    support::delete_prefix(&url, &prefix).await;
}

/// Redis only: `REDIS_URL` and `REDIS_KEY_PREFIX` select shared Redis backends with a health probe.
#[tokio::test]
async fn configuration_selects_redis_backends() {
    use redis::AsyncCommands;
    use shared::config::Env;
    use shared::platform::{Backends, CommonConfig};
    let Some(url) = support::redis_test_url() else {
        return;
    };
    let prefix = support::unique_prefix("config");
    let env = Env::from_pairs([
        ("JWT_SECRET", "j".repeat(32)),
        ("ENCRYPTION_KEY", "e".repeat(32)),
        ("INTERNAL_TOKEN", "i".repeat(32)),
        ("REDIS_URL", url.clone()),
        ("REDIS_KEY_PREFIX", prefix.clone()),
    ]);
    let mut r = env.reader();
    let config = CommonConfig::read(&mut r, 4000);
    r.finish().unwrap();
    let configured = Backends::from_config(&config).unwrap();
    assert!(configured.redis.as_ref().unwrap().ping().await);
    assert_eq!(configured.redis.as_ref().unwrap().status().await, "up");
    configured
        .sessions
        .revoke_session("sid-cfg", Duration::from_secs(30))
        .await
        .unwrap();
    // A second service built from the same configuration sees it.
    let other = Backends::from_config(&config).unwrap();
    assert_eq!(
        other.sessions.session_state("sid-cfg").await.unwrap(),
        SessionState::Ended
    );
    let mut c = support::direct(&url).await;
    let exists: bool = c.exists(format!("{prefix}revoked:sid-cfg")).await.unwrap();
    assert!(exists);
    support::delete_prefix(&url, &prefix).await;
}
