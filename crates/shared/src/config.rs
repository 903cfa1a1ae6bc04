//! Reading configuration from the environment: every problem is collected so that startup names every
//! bad key at once. `Secret<T>` keeps secrets out of logs and debug output.

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

/// A value that prints as `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Every configuration problem found, one line per key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .problems.join("\n  "))]
pub struct ConfigError {
    /// One message per bad key, naming the key.
    pub problems: Vec<String>,
}

/// A source of variables (the process environment, or a map in tests and the launcher).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment.
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// An explicit set of variables.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Sets a variable (builder style).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars.insert(key.to_string(), value.into());
        self
    }

    /// Sets a variable unless it is already set.
    pub fn with_default(mut self, key: &str, value: impl Into<String>) -> Self {
        self.vars
            .entry(key.to_string())
            .or_insert_with(|| value.into());
        self
    }

    /// The raw value, treating empty as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Starts reading, collecting problems.
    pub fn reader(&self) -> EnvReader<'_> {
        EnvReader {
            env: self,
            problems: Vec::new(),
        }
    }
}

/// Reads typed values and records every problem.
pub struct EnvReader<'a> {
    env: &'a Env,
    problems: Vec<String>,
}

impl EnvReader<'_> {
    /// A string with a default.
    pub fn string(&mut self, key: &str, default: &str) -> String {
        self.env.get(key).unwrap_or(default).to_string()
    }

    /// An optional string.
    pub fn opt_string(&mut self, key: &str) -> Option<String> {
        self.env.get(key).map(str::to_string)
    }

    /// A parsed value with a default.
    pub fn parse<T: FromStr>(&mut self, key: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.env.get(key) {
            None => default,
            Some(raw) => match raw.trim().parse() {
                Ok(v) => v,
                Err(e) => {
                    self.problems.push(format!("{key}: {e} (got {raw:?})"));
                    default
                }
            },
        }
    }

    /// A number with a default that must lie in `range`: one outside is a problem, named with the
    /// bounds and the value (the default stands in for it).
    pub fn within<T>(&mut self, key: &str, default: T, range: RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let value = self.parse(key, default);
        if range.contains(&value) {
            return value;
        }
        let (low, high) = range.into_inner();
        self.problem(format!(
            "{key}: must be between {low} and {high} (got {value})"
        ));
        default
    }

    /// A number with a default that must be at least `min`: a smaller one is a problem (the
    /// default stands in for it).
    pub fn at_least<T>(&mut self, key: &str, default: T, min: T) -> T
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let value = self.parse(key, default);
        if value >= min {
            return value;
        }
        self.problem(format!("{key}: must be at least {min} (got {value})"));
        default
    }

    /// A duration given in milliseconds (a timeout, an interval), with a default: at least 1 ms, as
    /// [`at_least`](Self::at_least) checks.
    pub fn millis(&mut self, key: &str, default_ms: u64) -> Duration {
        Duration::from_millis(self.at_least(key, default_ms, 1))
    }

    /// A boolean (`true/false/1/0/yes/no`) with a default.
    pub fn bool(&mut self, key: &str, default: bool) -> bool {
        match self.env.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                self.problems
                    .push(format!("{key}: expected true or false (got {v:?})"));
                default
            }
        }
    }

    /// A required secret of at least `min_len` bytes.
    pub fn secret(&mut self, key: &str, min_len: usize) -> Secret<String> {
        match self.env.get(key) {
            None => {
                self.problems.push(format!("{key}: required"));
                Secret::new(String::new())
            }
            Some(v) if v.len() < min_len => {
                self.problems.push(format!(
                    "{key}: must be at least {min_len} bytes (got {})",
                    v.len()
                ));
                Secret::new(String::new())
            }
            Some(v) => Secret::new(v.to_string()),
        }
    }

    /// A required secret of exactly `len` bytes.
    pub fn secret_exact(&mut self, key: &str, len: usize) -> Secret<String> {
        match self.env.get(key) {
            None => {
                self.problems.push(format!("{key}: required"));
                Secret::new(String::new())
            }
            Some(v) if v.len() != len => {
                self.problems.push(format!(
                    "{key}: must be exactly {len} bytes (got {})",
                    v.len()
                ));
                Secret::new(String::new())
            }
            Some(v) => Secret::new(v.to_string()),
        }
    }

    /// A base URL (http or https), trailing slash removed.
    pub fn url(&mut self, key: &str, default: &str) -> String {
        let v = self.string(key, default);
        if !(v.starts_with("http://") || v.starts_with("https://")) {
            self.problems
                .push(format!("{key}: must be an http(s) URL (got {v:?})"));
        }
        v.trim_end_matches('/').to_string()
    }

    /// A comma-separated list (empty entries dropped).
    pub fn list(&mut self, key: &str) -> Vec<String> {
        self.env
            .get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Records a problem found by the caller's own checks.
    pub fn problem(&mut self, msg: impl Into<String>) {
        self.problems.push(msg.into());
    }

    /// `Ok` when nothing was wrong, else every problem.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_bad_key() {
        let env = Env::from_pairs([("PORT", "abc"), ("JWT_SECRET", "short")]);
        let mut r = env.reader();
        let _: u16 = r.parse("PORT", 4001);
        let _ = r.secret("JWT_SECRET", 32);
        let _ = r.secret("JWT_REFRESH_SECRET", 32);
        let err = r.finish().unwrap_err();
        assert_eq!(err.problems.len(), 3);
        assert!(err.problems[0].starts_with("PORT"));
        assert!(err.problems[1].starts_with("JWT_SECRET"));
        assert!(err.problems[2].starts_with("JWT_REFRESH_SECRET"));
    }

    #[test]
    fn bounded_numbers_name_their_bounds_and_the_value() {
        let env = Env::from_pairs([
            ("A", "0"),
            ("B", "5"),
            ("C", "70000"),
            ("D", "10"),
            ("G", "0"),
        ]);
        let mut r = env.reader();
        assert_eq!(r.at_least("A", 1000_u64, 1), 1000);
        assert_eq!(r.at_least("B", 1000_u64, 1), 5);
        assert_eq!(r.within("C", 100_u64, 10..=60_000), 100);
        assert_eq!(r.within("D", 100_u64, 10..=60_000), 10);
        assert_eq!(r.within("E", 0.5, 0.0..=1.0), 0.5);
        assert_eq!(r.millis("F", 1000), Duration::from_secs(1));
        assert_eq!(r.millis("G", 1000), Duration::from_secs(1));
        let err = r.finish().unwrap_err();
        assert_eq!(
            err.problems,
            [
                "A: must be at least 1 (got 0)",
                "C: must be between 10 and 60000 (got 70000)",
                "G: must be at least 1 (got 0)",
            ]
        );
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "***");
    }
}
