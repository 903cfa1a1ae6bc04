//! The service's configuration, read once from the environment; every bad key is named at once.

use shared::config::{ConfigError, Env};
use shared::platform::CommonConfig;

/// Default port of the product service.
pub const DEFAULT_PORT: u16 = 4002;

/// Everything the product service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keys every service reads (port, secrets, CORS, timeouts).
    pub common: CommonConfig,
    /// `DATABASE_URL` (default `sqlite://data/products.db`).
    pub database_url: String,
}

impl Config {
    /// Reads every key from `env`, naming every bad one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (mut r, common) = CommonConfig::reader(env, DEFAULT_PORT);
        let database_url = r.string("DATABASE_URL", "sqlite://data/products.db");
        r.finish()?;
        Ok(Self {
            common,
            database_url,
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
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("ENCRYPTION_KEY", "12345678901234567890123456789012"),
            ("INTERNAL_TOKEN", "0123456789abcdef0123456789abcdef"),
        ]);
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.common.port, 4002);
        assert_eq!(config.database_url, "sqlite://data/products.db");
        let err = Config::from_env(&env.with("PORT", "nope")).unwrap_err();
        assert!(err.problems.iter().any(|p| p.contains("PORT")));
    }
}
