//! What every service shares at runtime: the common configuration keys, the backends for cache,
//! limits and sessions (in-process by default; one set can be shared by services in one process),
//! and the `Common` state piece that the auth, body and internal-token extractors read.

use crate::auth::{Authenticator, InternalToken, JwtKeys};
use crate::cache::{Cache, MemoryCache};
use crate::client::{http_client, ServiceClient};
use crate::config::{Env, EnvReader, Secret};
use crate::extract::BodyDecryption;
use crate::payload::{MacPolicy, PayloadCipher};
use crate::rate_limit::{MemoryRateLimiter, RateLimiter};
use crate::sessions::{MemorySessions, RemoteSessions, SessionAuthority, SessionRegistry};
use crate::shutdown::Draining;
use std::sync::Arc;
use std::time::Duration;

/// JWT issuer of access tokens.
pub const TOKEN_ISSUER: &str = "ecommerce-auth";
/// JWT audience of access tokens.
pub const TOKEN_AUDIENCE: &str = "ecommerce-api";

/// Configuration keys every service reads.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `SHUTDOWN_DELAY_MS` (default 0): how long a service goes on serving, `/ready` answering
    /// 503, once shutdown starts, before it stops accepting.
    pub shutdown_delay: Duration,
    /// `HOST` (default `0.0.0.0`, every interface): the address a standalone service binds.
    pub host: std::net::IpAddr,
    /// `PORT`.
    pub port: u16,
    /// `JWT_SECRET` (≥ 32 bytes).
    pub jwt_secret: Secret<String>,
    /// `ENCRYPTION_KEY` (exactly 32 bytes).
    pub encryption_key: Secret<String>,
    /// `PAYLOAD_MAC`: `optional` (default) or `required`.
    pub payload_mac: MacPolicy,
    /// `INTERNAL_TOKEN` (≥ 32 bytes): service-to-service calls and event deliveries.
    pub internal_token: Secret<String>,
    /// `REDIS_URL` (`redis://…`): when set, cache, rate limits and sessions live in Redis,
    /// shared by every replica (see [`Backends::from_config`]).
    pub redis_url: Option<String>,
    /// `REDIS_KEY_PREFIX` (default `ecommerce:`), put before every Redis key.
    pub redis_key_prefix: String,
    /// `ALLOWED_ORIGINS` (comma-separated; empty = any).
    pub allowed_origins: Vec<String>,
    /// `REQUEST_TIMEOUT_MS` (default 15000, at least 1).
    pub request_timeout: Duration,
    /// `MONGO_POOL_SIZE` (default 10) and `MONGO_SERVER_SELECTION_TIMEOUT_MS` (default and
    /// maximum 2000), used when `DATABASE_URL` is a MongoDB URL.
    pub mongo: crate::mongo::MongoOptions,
    /// `HEALTH_REFRESH_MS` (default 1000, 10–60000): how often `/health`'s answer is refreshed in
    /// the background.
    pub health_refresh: Duration,
    /// `AUTH_SERVICE_URL`: asked about sessions this service does not know (every session when it
    /// runs alone without Redis).
    pub auth_service_url: String,
}

impl CommonConfig {
    /// A reader of `env` for a service's own keys, and the common keys it has read first (their
    /// problems recorded in the reader, which reports all of them when it finishes).
    pub fn reader(env: &Env, default_port: u16) -> (EnvReader<'_>, Self) {
        let mut r = env.reader();
        let common = Self::read(&mut r, default_port);
        (r, common)
    }

    /// Reads the common keys, recording problems in `r`.
    pub fn read(r: &mut EnvReader<'_>, default_port: u16) -> Self {
        let payload_mac = match r.string("PAYLOAD_MAC", "optional").as_str() {
            "optional" => MacPolicy::Optional,
            "required" => MacPolicy::Required,
            other => {
                r.problem(format!(
                    "PAYLOAD_MAC: expected optional or required (got {other:?})"
                ));
                MacPolicy::Optional
            }
        };
        let redis_url = r.opt_string("REDIS_URL");
        if let Some(url) = &redis_url {
            if let Err(e) = crate::redis::RedisLink::new(url, "") {
                r.problem(format!("REDIS_URL: {e}"));
            }
        }
        Self {
            shutdown_delay: Duration::from_millis(r.parse("SHUTDOWN_DELAY_MS", 0u64)),
            host: r.parse(
                "HOST",
                std::net::IpAddr::from(std::net::Ipv4Addr::UNSPECIFIED),
            ),
            port: r.parse("PORT", default_port),
            jwt_secret: r.secret("JWT_SECRET", 32),
            encryption_key: r.secret_exact("ENCRYPTION_KEY", 32),
            payload_mac,
            internal_token: r.secret("INTERNAL_TOKEN", 32),
            redis_url,
            redis_key_prefix: r.string("REDIS_KEY_PREFIX", crate::redis::DEFAULT_KEY_PREFIX),
            allowed_origins: r.list("ALLOWED_ORIGINS"),
            request_timeout: r.millis("REQUEST_TIMEOUT_MS", 15_000),
            mongo: read_mongo_options(r),
            health_refresh: read_health_refresh(r),
            auth_service_url: r.url("AUTH_SERVICE_URL", "http://localhost:4001"),
        }
    }

    /// The HTTP layer options for `service`.
    pub fn http_options(&self, service: &'static str) -> crate::http::HttpOptions {
        crate::http::HttpOptions {
            service,
            allowed_origins: self.allowed_origins.clone(),
            request_timeout: self.request_timeout,
        }
    }
}

fn read_health_refresh(r: &mut EnvReader<'_>) -> Duration {
    Duration::from_millis(r.within("HEALTH_REFRESH_MS", 1000, 10..=60_000))
}

fn read_mongo_options(r: &mut EnvReader<'_>) -> crate::mongo::MongoOptions {
    let pool_size = r.at_least("MONGO_POOL_SIZE", crate::mongo::DEFAULT_POOL_SIZE, 1);
    let selection_ms = r.within("MONGO_SERVER_SELECTION_TIMEOUT_MS", 2000, 1..=2000);
    crate::mongo::MongoOptions {
        pool_size,
        server_selection_timeout: Duration::from_millis(selection_ms),
    }
}

/// Cache, rate-limit and session backends.
#[derive(Clone)]
pub struct Backends {
    /// Read cache.
    pub cache: Arc<dyn Cache>,
    /// Rate limiter.
    pub limiter: Arc<dyn RateLimiter>,
    /// Live and ended sessions.
    pub sessions: Arc<dyn SessionRegistry>,
    /// `Some` when the backends live in Redis: ask it for `redis: "up"|"down"` in `/health`.
    pub redis: Option<crate::redis::RedisHealth>,
}

impl Backends {
    /// Fresh in-process backends (one process shares them by cloning this value).
    pub fn in_process() -> Self {
        Self {
            cache: Arc::new(MemoryCache::default()),
            limiter: Arc::new(MemoryRateLimiter::default()),
            sessions: Arc::new(MemorySessions::default()),
            redis: None,
        }
    }

    /// Backends for a service running alone: in-process cache and limits, and sessions asked of
    /// the auth service (each answer kept 1 s).
    pub fn standalone(config: &CommonConfig) -> Self {
        Self {
            sessions: Arc::new(auth_sessions(config)),
            ..Self::in_process()
        }
    }
}

impl Backends {
    /// Redis backends when `REDIS_URL` is set (keys under `REDIS_KEY_PREFIX`), else
    /// [`Backends::standalone`]. Never waits for Redis: when it is down the backends start degraded
    /// and recover once it answers. Call inside the Tokio runtime.
    pub fn from_config(config: &CommonConfig) -> Result<Self, crate::redis::RedisError> {
        match &config.redis_url {
            Some(url) => {
                Ok(crate::redis::RedisBackends::new(url, &config.redis_key_prefix)?.backends())
            }
            None => Ok(Self::standalone(config)),
        }
    }
}

/// The auth service's view of sessions (`GET /internal/sessions/:sid` at `AUTH_SERVICE_URL`).
fn auth_sessions(config: &CommonConfig) -> RemoteSessions {
    RemoteSessions::new(ServiceClient::new(
        http_client(Duration::from_secs(2)),
        &config.auth_service_url,
        "Auth",
        Some(config.internal_token.clone()),
    ))
}

/// The state piece every service embeds; its parts are reachable through `FromRef`.
#[derive(Clone)]
pub struct Common {
    /// Token verification and the session check.
    pub authenticator: Authenticator,
    /// Body decryption for `{"encrypted": …}`.
    pub decryption: BodyDecryption,
    /// Internal service token.
    pub internal_token: InternalToken,
    /// Set while shutting down.
    pub draining: Draining,
    /// Backends.
    pub backends: Backends,
}

impl Common {
    /// Builds the common state from the config and backends. Sessions the backends do not know are
    /// asked of the auth service (the auth service replaces that with its own database).
    pub fn new(config: &CommonConfig, backends: Backends) -> Result<Self, String> {
        let cipher = PayloadCipher::new(config.encryption_key.expose(), config.payload_mac)?;
        let authority = (!backends.sessions.is_authoritative())
            .then(|| Arc::new(auth_sessions(config)) as Arc<dyn SessionAuthority>);
        Ok(Self {
            authenticator: Authenticator {
                keys: Arc::new(JwtKeys::new(
                    config.jwt_secret.expose(),
                    TOKEN_ISSUER,
                    TOKEN_AUDIENCE,
                )),
                sessions: backends.sessions.clone(),
                authority,
            },
            decryption: BodyDecryption(Some(Arc::new(cipher))),
            internal_token: InternalToken(Arc::from(config.internal_token.expose().as_str())),
            draining: Draining::with_delay(config.shutdown_delay),
            backends,
        })
    }
}

/// Implements `FromRef<$state>` for the `Common` parts, given the field that holds `Common`.
#[macro_export]
macro_rules! impl_common_from_ref {
    ($state:ty, $field:ident) => {
        impl ::axum::extract::FromRef<$state> for $crate::auth::Authenticator {
            fn from_ref(s: &$state) -> Self {
                s.$field.authenticator.clone()
            }
        }
        impl ::axum::extract::FromRef<$state> for $crate::extract::BodyDecryption {
            fn from_ref(s: &$state) -> Self {
                s.$field.decryption.clone()
            }
        }
        impl ::axum::extract::FromRef<$state> for $crate::auth::InternalToken {
            fn from_ref(s: &$state) -> Self {
                s.$field.internal_token.clone()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    fn base_env() -> Env {
        Env::from_pairs([
            ("JWT_SECRET", "j".repeat(32)),
            ("ENCRYPTION_KEY", "e".repeat(32)),
            ("INTERNAL_TOKEN", "i".repeat(32)),
        ])
    }

    fn read(env: &Env) -> Result<CommonConfig, crate::config::ConfigError> {
        let mut r = env.reader();
        let c = CommonConfig::read(&mut r, 4000);
        r.finish().map(|()| c)
    }

    #[test]
    fn redis_url_and_prefix_are_read() {
        let c = read(&base_env()).unwrap();
        assert_eq!(c.redis_url, None);
        assert_eq!(c.redis_key_prefix, "ecommerce:");
        let env = base_env()
            .with("REDIS_URL", "redis://127.0.0.1:6379/")
            .with("REDIS_KEY_PREFIX", "shop:");
        let c = read(&env).unwrap();
        assert_eq!(c.redis_url.as_deref(), Some("redis://127.0.0.1:6379/"));
        assert_eq!(c.redis_key_prefix, "shop:");
    }

    #[test]
    fn the_bind_address_is_every_interface_unless_host_says_otherwise() {
        let c = read(&base_env()).unwrap();
        assert_eq!(c.host.to_string(), "0.0.0.0");
        let c = read(&base_env().with("HOST", "127.0.0.1")).unwrap();
        assert_eq!(c.host.to_string(), "127.0.0.1");
        let c = read(&base_env().with("HOST", "::")).unwrap();
        assert_eq!(c.host.to_string(), "::");
        let err = read(&base_env().with("HOST", "localhost:80")).unwrap_err();
        assert!(err.problems[0].starts_with("HOST"), "{err}");
    }

    #[test]
    fn the_shutdown_delay_is_none_unless_set() {
        assert_eq!(read(&base_env()).unwrap().shutdown_delay, Duration::ZERO);
        let c = read(&base_env().with("SHUTDOWN_DELAY_MS", "5000")).unwrap();
        assert_eq!(c.shutdown_delay, Duration::from_secs(5));
        let err = read(&base_env().with("SHUTDOWN_DELAY_MS", "soon")).unwrap_err();
        assert!(err.problems[0].starts_with("SHUTDOWN_DELAY_MS"), "{err}");
    }

    #[test]
    fn a_malformed_redis_url_is_a_config_problem() {
        let err = read(&base_env().with("REDIS_URL", "http://nope")).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert!(err.problems[0].starts_with("REDIS_URL"), "{err}");
    }

    #[tokio::test]
    async fn redis_backends_are_built_without_connecting() {
        // Port 1 never runs Redis: building must still succeed, and health must say down fast.
        let env = base_env().with("REDIS_URL", "redis://127.0.0.1:1/");
        let c = read(&env).unwrap();
        let configured = Backends::from_config(&c).unwrap();
        let health = configured
            .redis
            .expect("redis health when REDIS_URL is set");
        let started = std::time::Instant::now();
        assert_eq!(health.status().await, "down");
        assert!(started.elapsed() < Duration::from_millis(400));
        let standalone = Backends::from_config(&read(&base_env()).unwrap()).unwrap();
        assert!(standalone.redis.is_none());
    }
}
