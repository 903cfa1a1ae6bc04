//! The gateway's configuration: upstream service URLs, the upstream timeout, rate-limit rules,
//! trusted proxies and the developer tools switch. The only place that reads the environment.

use crate::net::IpNet;
use crate::upstream::breaker::BreakerSettings;
use hyper::http::uri::{Authority, Scheme};
use shared::config::{ConfigError, Env, EnvReader};
use shared::platform::CommonConfig;
use shared::rate_limit::RateRule;
use std::time::Duration;

/// One upstream service: its display name and where it listens.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `Auth`, `Product`, `Order`, `Payment` (used in "<name> service unavailable").
    pub name: &'static str,
    /// The base URL as configured (`http://host:port`).
    pub url: String,
    /// `http` (TLS upstreams are not supported by the proxy).
    pub scheme: Scheme,
    /// `host:port`.
    pub authority: Authority,
}

/// Rate-limit settings.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// `RATE_LIMIT_ENABLED` (default true).
    pub enabled: bool,
    /// `RATE_LIMIT_AUTH` (default 5/60): POST /api/auth/login and /register per client.
    pub auth: RateRule,
    /// `RATE_LIMIT_WRITE` (default 100/900): non-GET requests per client and per user.
    pub write: RateRule,
    /// `RATE_LIMIT_READ` (default 1000/900): GET/HEAD per client.
    pub read: RateRule,
}

/// Default port of the gateway.
pub const DEFAULT_PORT: u16 = 3000;

/// Everything the gateway reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keys every service reads (`PORT`, secrets, `ALLOWED_ORIGINS`, …).
    pub common: CommonConfig,
    /// `AUTH_SERVICE_URL` (default http://localhost:4001).
    pub auth: Upstream,
    /// `PRODUCT_SERVICE_URL` (default http://localhost:4002).
    pub products: Upstream,
    /// `ORDER_SERVICE_URL` (default http://localhost:4003).
    pub orders: Upstream,
    /// `PAYMENT_SERVICE_URL` (default http://localhost:4004).
    pub payments: Upstream,
    /// `EVENT_BUS_URL` (default http://localhost:4005), used only by `/health`.
    pub event_bus_url: String,
    /// `UPSTREAM_TIMEOUT_MS` (default 15000): longest wait for an upstream's response head → 504.
    pub upstream_timeout: Duration,
    /// Rate-limit rules.
    pub rate_limits: RateLimits,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `BREAKER_FAILURES` (default 5; 0 turns the breakers off) and `BREAKER_OPEN_MS` (default
    /// 5000): each upstream's circuit breaker.
    pub breaker: BreakerSettings,
    /// `DEV_TOOLS` (default false): `/api/dev/encrypt` and `/api/dev/decrypt`.
    pub dev_tools: bool,
}

impl Config {
    /// Reads every key from `env`, naming every bad one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (mut r, common) = CommonConfig::reader(env, DEFAULT_PORT);
        let auth = upstream(&mut r, "AUTH_SERVICE_URL", "http://localhost:4001", "Auth");
        let products = upstream(
            &mut r,
            "PRODUCT_SERVICE_URL",
            "http://localhost:4002",
            "Product",
        );
        let orders = upstream(
            &mut r,
            "ORDER_SERVICE_URL",
            "http://localhost:4003",
            "Order",
        );
        let payments = upstream(
            &mut r,
            "PAYMENT_SERVICE_URL",
            "http://localhost:4004",
            "Payment",
        );
        let event_bus_url = r.url("EVENT_BUS_URL", "http://localhost:4005");
        let upstream_timeout = r.millis("UPSTREAM_TIMEOUT_MS", 15_000);
        let rate_limits = RateLimits {
            enabled: r.bool("RATE_LIMIT_ENABLED", true),
            auth: rule(&mut r, "RATE_LIMIT_AUTH", 5, 60),
            write: rule(&mut r, "RATE_LIMIT_WRITE", 100, 900),
            read: rule(&mut r, "RATE_LIMIT_READ", 1000, 900),
        };
        let mut trusted_proxies = Vec::new();
        for item in r.list("TRUSTED_PROXIES") {
            match item.parse::<IpNet>() {
                Ok(net) => trusted_proxies.push(net),
                Err(e) => r.problem(format!("TRUSTED_PROXIES: {e} (got {item:?})")),
            }
        }
        let breaker = BreakerSettings {
            failures: r.parse("BREAKER_FAILURES", 5),
            open_for: Duration::from_millis(r.parse("BREAKER_OPEN_MS", 5_000)),
        };
        let dev_tools = r.bool("DEV_TOOLS", false);
        r.finish()?;
        Ok(Self {
            common,
            auth,
            products,
            orders,
            payments,
            event_bus_url,
            upstream_timeout,
            rate_limits,
            trusted_proxies,
            breaker,
            dev_tools,
        })
    }

    /// The four proxied upstreams.
    pub fn upstreams(&self) -> [&Upstream; 4] {
        [&self.auth, &self.products, &self.orders, &self.payments]
    }
}

fn rule(r: &mut EnvReader<'_>, key: &str, count: u32, secs: u64) -> RateRule {
    let default = RateRule {
        count,
        window: Duration::from_secs(secs),
    };
    match r.opt_string(key) {
        None => default,
        Some(raw) => raw.parse().unwrap_or_else(|e| {
            r.problem(format!("{key}: {e} (got {raw:?})"));
            default
        }),
    }
}

fn upstream(r: &mut EnvReader<'_>, key: &str, default: &str, name: &'static str) -> Upstream {
    let url = r.url(key, default);
    let fallback = || Upstream {
        name,
        url: url.clone(),
        scheme: Scheme::HTTP,
        authority: Authority::from_static("localhost"),
    };
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        r.problem(format!("{key}: not a valid URL (got {url:?})"));
        return fallback();
    };
    if uri.scheme() != Some(&Scheme::HTTP) {
        r.problem(format!(
            "{key}: the gateway proxies to http:// upstreams only (got {url:?})"
        ));
        return fallback();
    }
    if uri.path() != "/" || uri.query().is_some() {
        r.problem(format!(
            "{key}: must be a base URL without a path (got {url:?})"
        ));
        return fallback();
    }
    match uri.authority() {
        Some(authority) => Upstream {
            name,
            url: url.clone(),
            scheme: Scheme::HTTP,
            authority: authority.clone(),
        },
        None => {
            r.problem(format!("{key}: missing host (got {url:?})"));
            fallback()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Env {
        Env::from_pairs([
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("ENCRYPTION_KEY", "12345678901234567890123456789012"),
            ("INTERNAL_TOKEN", "0123456789abcdef0123456789abcdef"),
        ])
    }

    #[test]
    fn defaults_match_the_original_ports_and_limits() {
        let c = Config::from_env(&base()).unwrap();
        assert_eq!(c.common.port, 3000);
        assert_eq!(c.auth.authority.as_str(), "localhost:4001");
        assert_eq!(c.payments.authority.as_str(), "localhost:4004");
        assert_eq!(c.event_bus_url, "http://localhost:4005");
        assert_eq!(c.upstream_timeout, Duration::from_secs(15));
        assert_eq!(c.rate_limits.auth.count, 5);
        assert_eq!(c.rate_limits.write.window, Duration::from_secs(900));
        assert!(c.rate_limits.enabled);
        assert_eq!(c.breaker.failures, 5);
        assert_eq!(c.breaker.open_for, Duration::from_secs(5));
        assert!(!c.dev_tools);
    }

    #[test]
    fn every_bad_key_is_named() {
        let env = base()
            .with("ORDER_SERVICE_URL", "https://orders:4003")
            .with("RATE_LIMIT_READ", "lots")
            .with("TRUSTED_PROXIES", "10.0.0.0/8, nonsense")
            .with("DEV_TOOLS", "maybe")
            .with("BREAKER_OPEN_MS", "-1")
            .with("PRODUCT_SERVICE_URL", "http://products:4002/base");
        let err = Config::from_env(&env).unwrap_err();
        let all = err.problems.join("\n");
        for key in [
            "ORDER_SERVICE_URL",
            "RATE_LIMIT_READ",
            "TRUSTED_PROXIES",
            "DEV_TOOLS",
            "BREAKER_OPEN_MS",
            "PRODUCT_SERVICE_URL",
        ] {
            assert!(all.contains(key), "{key} not named in {all}");
        }
        assert_eq!(err.problems.len(), 6);
    }
}
