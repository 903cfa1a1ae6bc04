//! The event bus configuration: the common keys, the database, the subscribers and the delivery
//! schedule. The only place that reads the environment.

use crate::domain::{parse_subscription, Subscriber};
use shared::config::{ConfigError, Env};
use shared::platform::CommonConfig;
use std::time::Duration;

/// Default port of the event bus.
pub const DEFAULT_PORT: u16 = 4005;

/// Everything the bus reads at startup.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keys every service reads.
    pub common: CommonConfig,
    /// `DATABASE_URL` (default `sqlite://data/events.db`).
    pub database_url: String,
    /// `EVENT_SUBSCRIBERS`: comma-separated `url` or `name=url` entries; `EVENT_SUBSCRIPTIONS`:
    /// comma-separated `name=Type|Type…` entries limiting a subscriber to those event types (one
    /// not listed receives every event).
    pub subscribers: Vec<Subscriber>,
    /// `DELIVERY_MAX_ATTEMPTS` (default 10): attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// `DELIVERY_BACKOFF_MS` (default 500): the delay cap before the first retry.
    pub backoff_initial: Duration,
    /// `DELIVERY_BACKOFF_MAX_MS` (default 30000): the largest delay cap.
    pub backoff_max: Duration,
    /// `DELIVERY_TIMEOUT_MS` (default 5000): the longest one delivery attempt may take.
    pub delivery_timeout: Duration,
    /// `DELIVERY_CONCURRENCY` (default 64): delivery attempts in flight per subscriber (1 keeps
    /// each subscriber's deliveries in event order).
    pub delivery_concurrency: usize,
}

impl Config {
    /// Reads every key from `env`, naming every bad one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (mut r, common) = CommonConfig::reader(env, DEFAULT_PORT);
        let database_url = r.string("DATABASE_URL", "sqlite://data/events.db");
        let mut subscribers: Vec<Subscriber> = Vec::new();
        for entry in r.list("EVENT_SUBSCRIBERS") {
            match Subscriber::parse(&entry) {
                Ok(s) if subscribers.iter().any(|o| o.name() == s.name()) => r.problem(format!(
                    "EVENT_SUBSCRIBERS: subscriber name {:?} is used twice",
                    s.name()
                )),
                Ok(s) => subscribers.push(s),
                Err(e) => r.problem(format!("EVENT_SUBSCRIBERS: {e}")),
            }
        }
        for entry in r.list("EVENT_SUBSCRIPTIONS") {
            let problem = match parse_subscription(&entry) {
                Ok((name, types)) => match subscribers.iter_mut().find(|s| s.name() == name) {
                    Some(s) if s.subscription.types.is_some() => {
                        Some(format!("{name:?} is listed twice"))
                    }
                    Some(s) => {
                        s.subscription.types = Some(types);
                        None
                    }
                    None => Some(format!(
                        "{name:?} is not a subscriber named in EVENT_SUBSCRIBERS"
                    )),
                },
                Err(e) => Some(e),
            };
            if let Some(p) = problem {
                r.problem(format!("EVENT_SUBSCRIPTIONS: {p}"));
            }
        }
        let max_attempts: u32 = r.at_least("DELIVERY_MAX_ATTEMPTS", 10, 1);
        let initial: u64 = r.parse("DELIVERY_BACKOFF_MS", 500);
        let max: u64 = r.parse("DELIVERY_BACKOFF_MAX_MS", 30_000);
        let delivery_timeout = r.millis("DELIVERY_TIMEOUT_MS", 5_000);
        let concurrency: usize = r.within("DELIVERY_CONCURRENCY", 64, 1..=4096);
        if max < initial {
            r.problem(format!(
                "DELIVERY_BACKOFF_MAX_MS: must be at least DELIVERY_BACKOFF_MS ({initial})"
            ));
        }
        r.finish()?;
        Ok(Self {
            common,
            database_url,
            subscribers,
            max_attempts,
            backoff_initial: Duration::from_millis(initial),
            backoff_max: Duration::from_millis(max),
            delivery_timeout,
            delivery_concurrency: concurrency,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env() -> Env {
        Env::from_pairs([
            ("JWT_SECRET", "j".repeat(32)),
            ("ENCRYPTION_KEY", "k".repeat(32)),
            ("INTERNAL_TOKEN", "i".repeat(32)),
        ])
    }

    #[test]
    fn defaults_apply_when_only_secrets_are_set() {
        let c = Config::from_env(&env()).unwrap();
        assert_eq!(c.common.port, 4005);
        assert_eq!(c.database_url, "sqlite://data/events.db");
        assert!(c.subscribers.is_empty());
        assert_eq!(c.max_attempts, 10);
        assert_eq!(c.backoff_initial, Duration::from_millis(500));
        assert_eq!(c.backoff_max, Duration::from_secs(30));
        assert_eq!(c.delivery_timeout, Duration::from_secs(5));
    }

    #[test]
    fn subscribers_are_read_with_optional_names() {
        let e = env().with(
            "EVENT_SUBSCRIBERS",
            "orders=http://order-service:4003, http://payment-service:4004/",
        );
        let c = Config::from_env(&e).unwrap();
        let names: Vec<_> = c.subscribers.iter().map(Subscriber::name).collect();
        assert_eq!(names, ["orders", "payment-service:4004"]);
        assert!(c.subscribers.iter().all(|s| s.subscription.types.is_none()));
    }

    #[test]
    fn subscriptions_limit_named_subscribers_to_their_types() {
        let e = env()
            .with(
                "EVENT_SUBSCRIBERS",
                "orders=http://order-service:4003,payments=http://payment-service:4004,audit=http://a:1",
            )
            .with(
                "EVENT_SUBSCRIPTIONS",
                "orders=PaymentProcessed|PaymentFailed, payments=OrderCreated",
            );
        let c = Config::from_env(&e).unwrap();
        let types: Vec<_> = c
            .subscribers
            .iter()
            .map(|s| s.subscription.types.clone())
            .collect();
        assert_eq!(
            types,
            [
                Some(vec!["PaymentProcessed".into(), "PaymentFailed".into()]),
                Some(vec!["OrderCreated".into()]),
                None
            ]
        );
    }

    #[test]
    fn a_subscription_of_an_unknown_or_repeated_subscriber_is_refused() {
        let e = env()
            .with("EVENT_SUBSCRIBERS", "orders=http://order-service:4003")
            .with(
                "EVENT_SUBSCRIPTIONS",
                "orders=A,orders=B,nobody=A,orders=bad type",
            );
        let err = Config::from_env(&e).unwrap_err();
        let text = err.problems.join("\n");
        assert_eq!(err.problems.len(), 3, "{text}");
        assert!(text.contains("listed twice") && text.contains("\"nobody\" is not a subscriber"));
    }

    #[test]
    fn every_bad_key_is_named() {
        let e = env()
            .with("EVENT_SUBSCRIBERS", "a=http://x:1,a=http://y:2,nope")
            .with("DELIVERY_MAX_ATTEMPTS", "0")
            .with("DELIVERY_BACKOFF_MS", "100")
            .with("DELIVERY_BACKOFF_MAX_MS", "10")
            .with("DELIVERY_TIMEOUT_MS", "soon")
            .with("DELIVERY_CONCURRENCY", "0");
        let err = Config::from_env(&e).unwrap_err();
        let text = err.problems.join("\n");
        assert_eq!(err.problems.len(), 6, "{text}");
        for key in [
            "EVENT_SUBSCRIBERS",
            "DELIVERY_MAX_ATTEMPTS",
            "DELIVERY_BACKOFF_MAX_MS",
            "DELIVERY_TIMEOUT_MS",
            "DELIVERY_CONCURRENCY",
        ] {
            assert!(text.contains(key), "{key} missing in {text}");
        }
    }
}
