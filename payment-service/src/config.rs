//! The payment service's configuration, read once from the environment; every bad key is named.

use shared::config::{ConfigError, Env, EnvReader};
use shared::platform::CommonConfig;
use std::time::Duration;

/// Default port of the payment service.
pub const DEFAULT_PORT: u16 = 4004;

/// Settings of the simulated payment provider.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationConfig {
    /// `PAYMENT_LATENCY_MS` lower bound of one provider call.
    pub latency_min: Duration,
    /// `PAYMENT_LATENCY_MS` upper bound of one provider call.
    pub latency_max: Duration,
    /// `PAYMENT_FAILURE_RATE`: probability that one charge attempt fails transiently.
    pub failure_rate: f64,
    /// `PAYMENT_DECLINE_RATE`: probability that a payment is declined for good.
    pub decline_rate: f64,
    /// `PAYMENT_SEED`: seeds the provider's random numbers (deterministic tests).
    pub seed: Option<u64>,
}

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keys every service shares.
    pub common: CommonConfig,
    /// `DATABASE_URL` (default `sqlite://data/payments.db`).
    pub database_url: String,
    /// `ORDER_SERVICE_URL`.
    pub order_service_url: String,
    /// `EVENT_BUS_URL`.
    pub event_bus_url: String,
    /// `PAYMENT_RETRY_BUDGET_MS`: total time one charge may take, retries included.
    pub retry_budget: Duration,
    /// `PAYMENT_ATTEMPT_TIMEOUT_MS`: longest one provider attempt may take.
    pub attempt_timeout: Duration,
    /// `PAYMENT_CONCURRENCY` (default 256, 1–10000): payments charged or refunded at once.
    pub concurrency: usize,
    /// The simulated provider's behaviour.
    pub simulation: SimulationConfig,
}

impl Config {
    /// Reads every key from `env`, naming every bad one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (mut r, common) = CommonConfig::reader(env, DEFAULT_PORT);
        let database_url = r.string("DATABASE_URL", "sqlite://data/payments.db");
        let order_service_url = r.url("ORDER_SERVICE_URL", "http://localhost:4003");
        let event_bus_url = r.url("EVENT_BUS_URL", "http://localhost:4005");
        let retry_budget = r.millis("PAYMENT_RETRY_BUDGET_MS", 10_000);
        let attempt_timeout = r.millis("PAYMENT_ATTEMPT_TIMEOUT_MS", 3_000);
        let concurrency: usize = r.within("PAYMENT_CONCURRENCY", 256, 1..=10_000);
        let (latency_min, latency_max) = latency(&mut r);
        let failure_rate = r.within("PAYMENT_FAILURE_RATE", 0.1, 0.0..=1.0);
        let decline_rate = r.within("PAYMENT_DECLINE_RATE", 0.0, 0.0..=1.0);
        let seed = r
            .opt_string("PAYMENT_SEED")
            .and_then(|raw| match raw.trim().parse::<u64>() {
                Ok(s) => Some(s),
                Err(e) => {
                    r.problem(format!("PAYMENT_SEED: {e} (got {raw:?})"));
                    None
                }
            });
        r.finish()?;
        Ok(Self {
            common,
            database_url,
            order_service_url,
            event_bus_url,
            retry_budget,
            attempt_timeout,
            concurrency,
            simulation: SimulationConfig {
                latency_min,
                latency_max,
                failure_rate,
                decline_rate,
                seed,
            },
        })
    }
}

/// `PAYMENT_LATENCY_MS` as `min-max` (or a single number).
fn latency(r: &mut EnvReader<'_>) -> (Duration, Duration) {
    let raw = r.string("PAYMENT_LATENCY_MS", "50-300");
    let parsed = match raw.split_once('-') {
        Some((a, b)) => a
            .trim()
            .parse::<u64>()
            .ok()
            .zip(b.trim().parse::<u64>().ok()),
        None => raw.trim().parse::<u64>().ok().map(|v| (v, v)),
    };
    match parsed {
        Some((min, max)) if min <= max => (Duration::from_millis(min), Duration::from_millis(max)),
        _ => {
            r.problem(format!(
                "PAYMENT_LATENCY_MS: expected <min>-<max> milliseconds with min <= max (got {raw:?})"
            ));
            (Duration::from_millis(50), Duration::from_millis(300))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Env {
        Env::from_pairs([
            ("JWT_SECRET", "j".repeat(32)),
            ("ENCRYPTION_KEY", "e".repeat(32)),
            ("INTERNAL_TOKEN", "i".repeat(32)),
        ])
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::from_env(&base()).unwrap();
        assert_eq!(c.common.port, 4004);
        assert_eq!(c.database_url, "sqlite://data/payments.db");
        assert_eq!(c.order_service_url, "http://localhost:4003");
        assert_eq!(c.retry_budget, Duration::from_secs(10));
        assert_eq!(c.attempt_timeout, Duration::from_secs(3));
        assert_eq!(c.simulation.latency_min, Duration::from_millis(50));
        assert_eq!(c.simulation.latency_max, Duration::from_millis(300));
        assert_eq!(c.simulation.failure_rate, 0.1);
        assert_eq!(c.simulation.seed, None);
        assert_eq!(c.concurrency, 256);
    }

    #[test]
    fn every_bad_payment_key_is_named() {
        let env = base()
            .with("PAYMENT_LATENCY_MS", "300-50")
            .with("PAYMENT_FAILURE_RATE", "1.5")
            .with("PAYMENT_DECLINE_RATE", "x")
            .with("PAYMENT_SEED", "-1")
            .with("PAYMENT_RETRY_BUDGET_MS", "0")
            .with("PAYMENT_CONCURRENCY", "0");
        let err = Config::from_env(&env).unwrap_err();
        let all = err.problems.join("\n");
        for key in [
            "PAYMENT_LATENCY_MS",
            "PAYMENT_FAILURE_RATE",
            "PAYMENT_DECLINE_RATE",
            "PAYMENT_SEED",
            "PAYMENT_RETRY_BUDGET_MS",
            "PAYMENT_CONCURRENCY",
        ] {
            assert!(all.contains(key), "{key} not named in {all}");
        }
    }
}
