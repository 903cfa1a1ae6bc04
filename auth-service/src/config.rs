//! The auth service's configuration: the common keys plus refresh-token secret, login limits,
//! password-hashing cost and the optional admin bootstrap. The only place that reads the environment.

use shared::config::{ConfigError, Env, Secret};
use shared::platform::CommonConfig;
use shared::rate_limit::RateRule;
use std::time::Duration;

/// Default port of the auth service.
pub const DEFAULT_PORT: u16 = 4001;
/// Argon2 memory cost required in production (KiB).
pub const DEFAULT_ARGON2_MEMORY_KIB: u32 = 19_456;

/// The admin created at startup when `ADMIN_EMAIL` and `ADMIN_PASSWORD` are set.
#[derive(Debug, Clone)]
pub struct AdminBootstrap {
    /// `ADMIN_EMAIL`, lower-cased.
    pub email: String,
    /// `ADMIN_PASSWORD` (8–128 characters).
    pub password: Secret<String>,
    /// `ADMIN_NAME` (default "Administrator").
    pub name: String,
}

/// Every setting of the auth service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keys shared by every service.
    pub common: CommonConfig,
    /// `DATABASE_URL` (default `sqlite://data/auth.db`).
    pub database_url: String,
    /// `JWT_REFRESH_SECRET` (≥ 32 bytes, different from `JWT_SECRET`): the HMAC key refresh tokens
    /// are stored under.
    pub refresh_secret: Secret<String>,
    /// `RATE_LIMIT_AUTH` (`<count>/<seconds>`, default 5/60): login/register attempts per email.
    pub auth_rate: RateRule,
    /// `HASH_CONCURRENCY` (default: the CPUs this process may use): password hashes computed at
    /// once, each on its own low-priority thread.
    pub hash_concurrency: usize,
    /// `ARGON2_MEMORY_KIB` (default 19456, min 8): tests lower it to run fast.
    pub argon2_memory_kib: u32,
    /// Refresh-token lifetime (7 days, as the original).
    pub refresh_ttl: Duration,
    /// `ADMIN_EMAIL` + `ADMIN_PASSWORD` (+ `ADMIN_NAME`).
    pub admin: Option<AdminBootstrap>,
}

impl Config {
    /// Reads every key from `env`, naming every bad one.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let (mut r, common) = CommonConfig::reader(env, DEFAULT_PORT);
        let database_url = r.string("DATABASE_URL", "sqlite://data/auth.db");
        let refresh_secret = r.secret("JWT_REFRESH_SECRET", 32);
        if !refresh_secret.expose().is_empty()
            && refresh_secret.expose() == common.jwt_secret.expose()
        {
            r.problem("JWT_REFRESH_SECRET: must differ from JWT_SECRET");
        }
        let auth_rate = match r.string("RATE_LIMIT_AUTH", "5/60").parse::<RateRule>() {
            Ok(rule) => rule,
            Err(e) => {
                r.problem(format!("RATE_LIMIT_AUTH: {e}"));
                RateRule {
                    count: 5,
                    window: Duration::from_secs(60),
                }
            }
        };
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let hash_concurrency = r.within("HASH_CONCURRENCY", cpus.min(256), 1..=256);
        let argon2_memory_kib = r.within(
            "ARGON2_MEMORY_KIB",
            DEFAULT_ARGON2_MEMORY_KIB,
            8..=4_194_304,
        );
        let admin = read_admin(&mut r);
        r.finish()?;
        Ok(Self {
            common,
            database_url,
            refresh_secret,
            auth_rate,
            hash_concurrency,
            argon2_memory_kib,
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            admin,
        })
    }
}

fn read_admin(r: &mut shared::config::EnvReader<'_>) -> Option<AdminBootstrap> {
    let email = r.opt_string("ADMIN_EMAIL");
    let password = r.opt_string("ADMIN_PASSWORD");
    let name = r.string("ADMIN_NAME", "Administrator").trim().to_string();
    match (email, password) {
        (None, None) => None,
        (Some(_), None) => {
            r.problem("ADMIN_PASSWORD: required when ADMIN_EMAIL is set");
            None
        }
        (None, Some(_)) => {
            r.problem("ADMIN_EMAIL: required when ADMIN_PASSWORD is set");
            None
        }
        (Some(email), Some(password)) => {
            let email = email.trim().to_lowercase();
            let mut ok = true;
            if !shared::validate::is_email(&email) {
                r.problem("ADMIN_EMAIL: must be a valid email");
                ok = false;
            }
            let len = password.chars().count();
            if !(8..=128).contains(&len) {
                r.problem(format!(
                    "ADMIN_PASSWORD: must be 8 to 128 characters (got {len})"
                ));
                ok = false;
            }
            let name_len = name.chars().count();
            if !(2..=50).contains(&name_len) {
                r.problem("ADMIN_NAME: must be 2 to 50 characters");
                ok = false;
            }
            ok.then(|| AdminBootstrap {
                email,
                password: Secret::new(password),
                name,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Env {
        Env::from_pairs([
            ("JWT_SECRET", "a".repeat(32)),
            ("JWT_REFRESH_SECRET", "b".repeat(32)),
            ("ENCRYPTION_KEY", "c".repeat(32)),
            ("INTERNAL_TOKEN", "d".repeat(32)),
        ])
    }

    #[test]
    fn defaults_apply_when_only_secrets_are_set() {
        let c = Config::from_env(&base()).unwrap();
        assert_eq!(c.common.port, 4001);
        assert_eq!(c.database_url, "sqlite://data/auth.db");
        assert_eq!(c.auth_rate.count, 5);
        assert_eq!(c.auth_rate.window, Duration::from_secs(60));
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(c.hash_concurrency, cpus);
        assert_eq!(c.argon2_memory_kib, 19_456);
        assert!(c.admin.is_none());
    }

    #[test]
    fn every_bad_key_is_named() {
        let env = base()
            .with("JWT_REFRESH_SECRET", "a".repeat(32))
            .with("RATE_LIMIT_AUTH", "five")
            .with("HASH_CONCURRENCY", "0")
            .with("ARGON2_MEMORY_KIB", "4")
            .with("ADMIN_EMAIL", "not-an-email")
            .with("ADMIN_PASSWORD", "short");
        let err = Config::from_env(&env).unwrap_err();
        let all = err.problems.join("\n");
        for key in [
            "JWT_REFRESH_SECRET",
            "RATE_LIMIT_AUTH",
            "HASH_CONCURRENCY",
            "ARGON2_MEMORY_KIB",
            "ADMIN_EMAIL",
            "ADMIN_PASSWORD",
        ] {
            assert!(all.contains(key), "{key} not named in {all}");
        }
    }

    #[test]
    fn admin_bootstrap_is_read_when_both_keys_are_set() {
        let env = base()
            .with("ADMIN_EMAIL", " Admin@Example.com ")
            .with("ADMIN_PASSWORD", "correct horse");
        let admin = Config::from_env(&env).unwrap().admin.unwrap();
        assert_eq!(admin.email, "admin@example.com");
        assert_eq!(admin.name, "Administrator");
        let half = base().with("ADMIN_EMAIL", "admin@example.com");
        assert!(Config::from_env(&half).is_err());
    }
}
