//! One contract for the cache, rate-limit and session backends: every check runs against the
//! in-process backends and against Redis (`REDIS_TEST_URL`; skipped when unset, required under
//! `CI=true`), each Redis test under its own key prefix. The "second instance" of a backend is a
//! clone of the same in-process backend (services in one process share it) and a separately built
//! Redis backend on the same server and prefix (replicas share it through Redis).

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
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

async fn limiter_allows_the_count_then_refuses(f: Fixture) {
    let r = rule(3, Duration::from_secs(60));
    for expected_remaining in [2, 1, 0] {
        let d = f.limiter.hit("ip:1", r).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.limit, 3);
        assert_eq!(d.remaining, expected_remaining);
        assert_eq!(d.window, Duration::from_secs(60));
        assert!(
            d.reset_after > Duration::from_secs(55),
            "{:?}",
            d.reset_after
        );
        assert!(
            d.reset_after <= Duration::from_secs(60),
            "{:?}",
            d.reset_after
        );
    }
    let refused = f.limiter.hit("ip:1", r).await.unwrap();
    assert!(!refused.allowed);
    assert_eq!(refused.remaining, 0);
    // Another key has its own window.
    let other = f.limiter.hit("ip:2", r).await.unwrap();
    assert!(other.allowed);
    assert_eq!(other.remaining, 2);
}

async fn limiter_window_resets(f: Fixture) {
    let r = rule(1, Duration::from_millis(300));
    assert!(f.limiter.hit("user:w", r).await.unwrap().allowed);
    assert!(!f.limiter.hit("user:w", r).await.unwrap().allowed);
    let limiter = f.limiter.clone();
    eventually("the window to reset", Duration::from_secs(3), || {
        let limiter = limiter.clone();
        async move { limiter.hit("user:w", r).await.unwrap().allowed }
    })
    .await;
}

async fn limiter_instances_share_one_limit(f: Fixture) {
    let r = rule(4, Duration::from_secs(60));
    assert!(f.limiter.hit("shared", r).await.unwrap().allowed);
    assert!(f.limiter2.hit("shared", r).await.unwrap().allowed);
    assert!(f.limiter.hit("shared", r).await.unwrap().allowed);
    let last = f.limiter2.hit("shared", r).await.unwrap();
    assert!(last.allowed);
    assert_eq!(last.remaining, 0);
    assert!(!f.limiter.hit("shared", r).await.unwrap().allowed);
    assert!(!f.limiter2.hit("shared", r).await.unwrap().allowed);
}

async fn limiter_counts_concurrent_hits_exactly(f: Fixture) {
    let r = rule(20, Duration::from_secs(60));
    let hits = (0..60).map(|i| {
        let limiter = if i % 2 == 0 {
            f.limiter.clone()
        } else {
            f.limiter2.clone()
        };
        tokio::spawn(async move { limiter.hit("burst", r).await.unwrap().allowed })
    });
    let mut allowed = 0;
    for h in hits {
        allowed += usize::from(h.await.unwrap());
    }
    assert_eq!(allowed, 20);
}

fn bytes(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

async fn cache_stores_overwrites_and_deletes(f: Fixture) {
    let ttl = Duration::from_secs(60);
    assert_eq!(f.cache.get("product:1").await.unwrap(), None);
    f.cache
        .set("product:1", bytes("{\"a\":1}"), ttl)
        .await
        .unwrap();
    assert_eq!(
        f.cache.get("product:1").await.unwrap(),
        Some(bytes("{\"a\":1}"))
    );
    assert_eq!(
        f.cache2.get("product:1").await.unwrap(),
        Some(bytes("{\"a\":1}"))
    );
    f.cache
        .set("product:1", bytes("ünïcode ✓"), ttl)
        .await
        .unwrap();
    assert_eq!(
        f.cache.get("product:1").await.unwrap(),
        Some(bytes("ünïcode ✓"))
    );
    f.cache.delete("product:1").await.unwrap();
    assert_eq!(f.cache.get("product:1").await.unwrap(), None);
    // Deleting what is absent is fine.
    f.cache.delete("product:1").await.unwrap();
}

async fn cache_values_are_binary_safe(f: Fixture) {
    // Every byte value, NULs and invalid UTF-8 included, plus an empty value and a large one:
    // stored answers hold gzip and br forms.
    let every_byte: Bytes = (0..=255u8).chain((0..=255u8).rev()).collect();
    let large: Bytes = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let ttl = Duration::from_secs(60);
    for (key, value) in [
        ("bin:every", every_byte),
        ("bin:empty", Bytes::new()),
        ("bin:large", large),
    ] {
        f.cache.set(key, value.clone(), ttl).await.unwrap();
        assert_eq!(
            f.cache.get(key).await.unwrap(),
            Some(value.clone()),
            "{key}"
        );
        assert_eq!(f.cache2.get(key).await.unwrap(), Some(value), "{key}");
    }
}

async fn cache_entries_expire(f: Fixture) {
    f.cache
        .set("short", bytes("v"), Duration::from_millis(150))
        .await
        .unwrap();
    f.cache
        .set("long", bytes("v"), Duration::from_secs(60))
        .await
        .unwrap();
    f.cache
        .set("none", bytes("v"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(f.cache.get("none").await.unwrap(), None);
    let cache = f.cache.clone();
    eventually("the short entry to expire", Duration::from_secs(3), || {
        let cache = cache.clone();
        async move { cache.get("short").await.unwrap().is_none() }
    })
    .await;
    assert_eq!(f.cache.get("long").await.unwrap(), Some(bytes("v")));
}

async fn cache_generations_count_and_are_shared(f: Fixture) {
    assert_eq!(f.cache.generation("gen:products").await.unwrap(), 0);
    assert_eq!(f.cache.bump("gen:products").await.unwrap(), 1);
    assert_eq!(f.cache.bump("gen:products").await.unwrap(), 2);
    assert_eq!(f.cache.generation("gen:products").await.unwrap(), 2);
    assert_eq!(f.cache2.generation("gen:products").await.unwrap(), 2);
    assert_eq!(f.cache2.bump("gen:products").await.unwrap(), 3);
    assert_eq!(f.cache.generation("gen:products").await.unwrap(), 3);
    assert_eq!(f.cache.generation("gen:other").await.unwrap(), 0);
}

async fn sessions_are_live_or_ended_until_their_ttl(f: Fixture) {
    let state = |sid: &'static str| {
        let sessions = f.sessions.clone();
        async move { sessions.session_state(sid).await.unwrap() }
    };
    assert_eq!(state("sid-a").await, SessionState::Unknown);
    f.sessions
        .open_session("sid-a", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(state("sid-a").await, SessionState::Live);
    f.sessions
        .revoke_session("sid-a", Duration::from_secs(60))
        .await
        .unwrap();
    // A token issued while the logout happened does not bring the session back.
    f.sessions
        .open_session("sid-a", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(state("sid-a").await, SessionState::Ended);
    f.sessions
        .open_session("sid-b", Duration::from_millis(150))
        .await
        .unwrap();
    // An entry with no lifetime left is accepted and ends at once.
    f.sessions
        .revoke_session("sid-c", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(state("sid-b").await, SessionState::Live);
    assert_eq!(state("sid-other").await, SessionState::Unknown);
    let sessions = f.sessions.clone();
    eventually("sid-b to be forgotten", Duration::from_secs(3), || {
        let sessions = sessions.clone();
        async move { sessions.session_state("sid-b").await.unwrap() == SessionState::Unknown }
    })
    .await;
    assert_eq!(state("sid-a").await, SessionState::Ended);
}

async fn sessions_are_shared(f: Fixture) {
    f.sessions
        .open_session("sid-live", Duration::from_secs(60))
        .await
        .unwrap();
    f.sessions
        .revoke_session("sid-shared", Duration::from_secs(60))
        .await
        .unwrap();
    let other = &f.sessions2;
    assert_eq!(
        other.session_state("sid-live").await.unwrap(),
        SessionState::Live
    );
    assert_eq!(
        other.session_state("sid-shared").await.unwrap(),
        SessionState::Ended
    );
    assert_eq!(
        other.session_state("sid-else").await.unwrap(),
        SessionState::Unknown
    );
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
