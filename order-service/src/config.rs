//! order-service configuration: the common keys plus the product service, the event bus and the
//! outbox poll interval. The only place that reads the environment.

use shared::config::{ConfigError, Env};
use shared::platform::CommonConfig;
use std::time::Duration;

/// Default port of the order service.
pub const DEFAULT_PORT: u16 = 4003;

/// Everything the order service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keys every service reads.
    pub common: CommonConfig,
    /// `DATABASE_URL` (default `sqlite://data/orders.db`).
    pub database_url: String,
    /// `PRODUCT_SERVICE_URL` (default `http://localhost:4002`).
    pub product_service_url: String,
    /// `EVENT_BUS_URL` (default `http://localhost:4005`).
    pub event_bus_url: String,
    /// `OUTBOX_POLL_MS` (default 1000): how often the relay and the release worker look for due work.
    pub outbox_poll: Duration,
    /// `PRODUCT_TIMEOUT_MS` (default 5000): longest a call to the product service may take (then 504).
    pub product_timeout: Duration,
}

impl Config {
    /// Reads every key from `env`, naming every bad one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (mut r, common) = CommonConfig::reader(env, DEFAULT_PORT);
        let database_url = r.string("DATABASE_URL", "sqlite://data/orders.db");
        let product_service_url = r.url("PRODUCT_SERVICE_URL", "http://localhost:4002");
        let event_bus_url = r.url("EVENT_BUS_URL", "http://localhost:4005");
        let outbox_poll = r.millis("OUTBOX_POLL_MS", 1000);
        let product_timeout = r.millis("PRODUCT_TIMEOUT_MS", 5000);
        r.finish()?;
        Ok(Self {
            common,
            database_url,
            product_service_url,
            event_bus_url,
            outbox_poll,
            product_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_apply_and_bad_keys_are_named() {
        let env = Env::from_pairs([
            ("JWT_SECRET", "j".repeat(32)),
            ("ENCRYPTION_KEY", "k".repeat(32)),
            ("INTERNAL_TOKEN", "i".repeat(32)),
        ]);
        let c = Config::from_env(&env).unwrap();
        assert_eq!(c.common.port, 4003);
        assert_eq!(c.database_url, "sqlite://data/orders.db");
        assert_eq!(c.product_service_url, "http://localhost:4002");
        assert_eq!(c.event_bus_url, "http://localhost:4005");
        assert_eq!(c.outbox_poll, Duration::from_millis(1000));

        let bad = env
            .with("OUTBOX_POLL_MS", "soon")
            .with("PRODUCT_SERVICE_URL", "ftp://x")
            .with("PRODUCT_TIMEOUT_MS", "0")
            .with("REQUEST_TIMEOUT_MS", "0");
        let err = Config::from_env(&bad).unwrap_err();
        for zero in ["PRODUCT_TIMEOUT_MS", "REQUEST_TIMEOUT_MS"] {
            let problem = format!("{zero}: must be at least 1 (got 0)");
            assert!(err.problems.contains(&problem), "{:?}", err.problems);
        }
        assert!(err.problems.iter().any(|p| p.starts_with("OUTBOX_POLL_MS")));
        assert!(err
            .problems
            .iter()
            .any(|p| p.starts_with("PRODUCT_SERVICE_URL")));
    }
}
