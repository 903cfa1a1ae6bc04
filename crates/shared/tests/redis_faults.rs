//! Fault tests for the Redis backends against a private `redis-server` on a free port (skipped when
//! `redis-server` is not on PATH, required under `CI=true`): Redis down at startup, killed and
//! restarted on the same port, and hung with SIGSTOP. The limiter falls back to in-process counts,
//! cache calls error (callers read the database), session checks error (callers fail closed),
//! every call gives up within the 250 ms bound, and everything recovers without rebuilding.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use redis::AsyncCommands;
use shared::cache::Cache;
use shared::rate_limit::{RateLimiter, RateRule};
use shared::redis::{RedisBackends, REDIS_TIMEOUT};
use shared::sessions::{SessionRegistry, SessionState};
use std::future::Future;
use std::time::{Duration, Instant};
use support::{eventually, OwnRedis};

/// What a call may take beyond the 250 ms bound (scheduling on a busy machine).
const MARGIN: Duration = Duration::from_millis(150);

const RULE: RateRule = RateRule {
    count: 10_000,
    window: Duration::from_secs(60),
};

/// Awaits `f`, asserting it finished within the Redis bound plus the margin.
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = f.await;
    let took = started.elapsed();
    assert!(took <= REDIS_TIMEOUT + MARGIN, "{what} took {took:?}");
    out
}

/// Checks every backend answers as degraded: limiter in process, cache and sessions erroring.
async fn assert_degraded(b: &RedisBackends) {
    let d = bounded("limiter hit", b.limiter.hit("client:1", RULE))
        .await
        .expect("the limiter falls back instead of failing");
    assert!(d.allowed, "{d:?}");
    assert!(b.limiter.is_degraded());
    assert!(bounded("cache get", b.cache.get("k")).await.is_err());
    assert!(bounded(
        "cache set",
        b.cache
            .set("k", Bytes::from_static(b"v"), Duration::from_secs(5))
    )
    .await
    .is_err());
    assert!(bounded("cache generation", b.cache.generation("gen"))
        .await
        .is_err());
    assert!(
        bounded("session check", b.sessions.session_state("sid"))
            .await
            .is_err(),
        "session checks must fail closed"
    );
    assert!(!bounded("ping", b.health().ping()).await);
}

/// Waits until every backend works through Redis again.
async fn assert_recovers(b: &RedisBackends, url: &str, prefix: &str) {
    let health = b.health();
    eventually("redis health to come back", Duration::from_secs(5), || {
        let health = health.clone();
        async move { health.ping().await }
    })
    .await;
    // The limiter counts in Redis again: the hit is visible to a direct client.
    let d = b.limiter.hit("client:recovered", RULE).await.unwrap();
    assert!(!b.limiter.is_degraded());
    assert_eq!(d.remaining, RULE.count - 1);
    let mut direct = support::direct(url).await;
    let stored: Option<String> = direct
        .get(format!("{prefix}rl:client:recovered"))
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some("1"));
    // Cache and sessions answer.
    let cache = b.cache.clone();
    eventually("the cache to answer", Duration::from_secs(5), || {
        let cache = cache.clone();
        async move { cache.generation("gen").await.is_ok() }
    })
    .await;
    assert!(!b.cache.has_pending_bump());
    b.cache
        .set("k", Bytes::from_static(b"fresh"), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        b.cache.get("k").await.unwrap().as_deref(),
        Some(&b"fresh"[..])
    );
    b.sessions
        .revoke_session("sid-after", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        b.sessions.session_state("sid-after").await.unwrap(),
        SessionState::Ended
    );
}

#[tokio::test]
async fn down_at_startup_then_killed_and_restarted_recovers_without_rebuilding() {
    let Some(mut server) = OwnRedis::reserve() else {
        return;
    };
    let url = server.url();
    let prefix = support::unique_prefix("restart");
    // Built while nothing listens on the port: must not fail.
    let b = RedisBackends::new(&url, &prefix).unwrap();
    assert_degraded(&b).await;

    server.start().await;
    assert_recovers(&b, &url, &prefix).await;

    server.stop();
    assert_degraded(&b).await;
    // A write's bump fails while Redis is down: remembered, reads stay refused.
    assert!(bounded("bump", b.cache.bump("gen")).await.is_err());
    assert!(b.cache.has_pending_bump());
    assert!(b.cache.get("k").await.is_err());

    server.start().await;
    assert_recovers(&b, &url, &prefix).await;
    // The failed bump was redone on the restarted (empty) server.
    assert!(b.cache.generation("gen").await.unwrap() >= 1);
}

#[tokio::test]
async fn a_hung_redis_costs_each_call_at_most_the_bound_and_never_serves_stale_generations() {
    let Some(mut server) = OwnRedis::reserve() else {
        return;
    };
    server.start().await;
    let url = server.url();
    let prefix = support::unique_prefix("hung");
    let b = RedisBackends::new(&url, &prefix).unwrap();
    assert_eq!(b.cache.bump("gen").await.unwrap(), 1);
    b.cache
        .set(
            "product:1:x",
            Bytes::from_static(b"old"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(b.health().ping().await);

    server.pause();
    // Long enough to cover the first timeout, the back-off and fresh attempts after it.
    let until = Instant::now() + Duration::from_millis(1500);
    let mut rounds = 0;
    // Paced: calls during the back-off answer at once, so an unpaced loop would spin.
    let mut pace = tokio::time::interval(Duration::from_millis(50));
    while Instant::now() < until {
        pace.tick().await;
        assert_degraded(&b).await;
        rounds += 1;
    }
    assert!(rounds >= 2, "only {rounds} rounds");
    // The write's bump cannot reach the hung server.
    assert!(bounded("bump", b.cache.bump("gen")).await.is_err());
    assert!(b.cache.has_pending_bump());

    server.resume();
    // Generation 1 (under which "product:1:x" was cached) is never read again.
    let cache = b.cache.clone();
    eventually("a readable generation", Duration::from_secs(5), || {
        let cache = cache.clone();
        async move {
            match cache.generation("gen").await {
                Ok(g) => {
                    assert!(g >= 2, "served the stale generation {g}");
                    true
                }
                Err(_) => false,
            }
        }
    })
    .await;
    assert_recovers(&b, &url, &prefix).await;
}
