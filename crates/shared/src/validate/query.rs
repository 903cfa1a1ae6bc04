//! Query strings read with the same error collection as bodies: `page`, `limit`, filters.

use super::text::{has_control, Lines, CONTROL_MESSAGE};
use crate::error::{ApiError, FieldError};
use crate::store::PageRequest;
use std::collections::HashMap;

/// Reads query parameters with the same error collection: `page`, `limit`, filters.
pub struct QueryValidator<'a> {
    params: &'a HashMap<String, String>,
    known: Vec<&'static str>,
    errors: Vec<FieldError>,
}

impl<'a> QueryValidator<'a> {
    /// Starts validating a parsed query string.
    pub fn new(params: &'a HashMap<String, String>) -> Self {
        Self {
            params,
            known: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn err(&mut self, key: &str, what: &str) {
        self.errors
            .push(FieldError::new(key, format!("\"{key}\" {what}")));
    }

    /// `page` (default 1) and `limit` (default `default_limit`) of a list, within
    /// [`PageRequest`]'s bounds (documented by [`PageParams`](crate::openapi::PageParams)).
    pub fn page(&mut self, default_limit: u64) -> PageRequest {
        let page = self.int("page", 1, 1, PageRequest::MAX_PAGE as i64);
        let limit = self.int(
            "limit",
            default_limit as i64,
            1,
            PageRequest::MAX_LIMIT as i64,
        );
        PageRequest {
            page: page as u64,
            limit: limit as u64,
        }
    }

    /// An optional integer parameter in a range, with a default.
    pub fn int(&mut self, key: &'static str, default: i64, min: i64, max: i64) -> i64 {
        self.known.push(key);
        let Some(raw) = self.params.get(key) else {
            return default;
        };
        match raw.trim().parse::<i64>() {
            Ok(n) if n < min => {
                self.err(key, &format!("must be greater than or equal to {min}"));
                default
            }
            Ok(n) if n > max => {
                self.err(key, &format!("must be less than or equal to {max}"));
                default
            }
            Ok(n) => n,
            Err(_) => {
                self.err(key, "must be an integer");
                default
            }
        }
    }

    /// An optional non-empty string parameter of at most `max` characters.
    pub fn string(&mut self, key: &'static str, max: usize) -> Option<String> {
        self.known.push(key);
        let raw = self.params.get(key)?.trim().to_string();
        if raw.is_empty() {
            return None;
        }
        if has_control(&raw, Lines::Single) {
            self.err(key, CONTROL_MESSAGE);
            return None;
        }
        if raw.chars().count() > max {
            self.err(
                key,
                &format!("length must be less than or equal to {max} characters long"),
            );
            return None;
        }
        Some(raw)
    }

    /// An optional money parameter (`minPrice`) as cents.
    pub fn money(&mut self, key: &'static str) -> Option<i64> {
        self.known.push(key);
        let raw = self.params.get(key)?;
        let parsed = raw
            .trim()
            .parse::<f64>()
            .map_err(|_| "must be a number")
            .and_then(|f| crate::money::parse_cents(&serde_json::json!(f)));
        match parsed {
            Ok(c) => Some(c),
            Err(msg) => {
                self.err(key, msg);
                None
            }
        }
    }

    /// An optional parameter restricted to a set of values.
    pub fn one_of(&mut self, key: &'static str, allowed: &[&str]) -> Option<String> {
        self.known.push(key);
        let raw = self.params.get(key)?;
        if allowed.contains(&raw.as_str()) {
            Some(raw.clone())
        } else {
            self.err(key, &format!("must be one of [{}]", allowed.join(", ")));
            None
        }
    }

    /// An optional boolean parameter: `true` or `false`.
    pub fn bool(&mut self, key: &'static str) -> Option<bool> {
        self.known.push(key);
        match self.params.get(key)?.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.err(key, "must be a boolean");
                None
            }
        }
    }

    /// An optional ObjectId parameter.
    pub fn object_id(&mut self, key: &'static str) -> Option<String> {
        self.known.push(key);
        let raw = self.params.get(key)?;
        if crate::ids::is_object_id(raw) {
            Some(raw.to_ascii_lowercase())
        } else {
            self.err(key, "must be a valid id");
            None
        }
    }

    /// Finishes: unknown parameters are errors too.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let mut unknown: Vec<String> = self
            .params
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .cloned()
            .collect();
        unknown.sort();
        for k in unknown {
            self.err(&k, "is not allowed");
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn query_rejects_out_of_range_and_unknown_params() {
        let params: HashMap<String, String> = [
            ("limit".to_string(), "500".to_string()),
            ("x".to_string(), "1".to_string()),
        ]
        .into_iter()
        .collect();
        let mut q = QueryValidator::new(&params);
        assert_eq!(q.int("limit", 20, 1, 100), 20);
        let err = q.finish().unwrap_err();
        assert_eq!(err.errors.len(), 2);
    }

    #[test]
    fn a_page_defaults_and_keeps_within_its_bounds() {
        let read = |pairs: &[(&str, &str)]| {
            let params: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let mut q = QueryValidator::new(&params);
            let page = q.page(10);
            (page, q.finish().map_err(|e| e.errors))
        };
        assert_eq!(read(&[]), (PageRequest { page: 1, limit: 10 }, Ok(())));
        assert_eq!(
            read(&[("page", "3"), ("limit", "100")]).0,
            PageRequest {
                page: 3,
                limit: 100
            }
        );
        let (page, errors) = read(&[("page", "1000001"), ("limit", "0")]);
        assert_eq!(page, PageRequest { page: 1, limit: 10 });
        let fields: Vec<String> = errors.unwrap_err().into_iter().map(|e| e.message).collect();
        assert_eq!(
            fields,
            [
                "\"page\" must be less than or equal to 1000000",
                "\"limit\" must be greater than or equal to 1"
            ]
        );
    }

    #[test]
    fn booleans_are_true_or_false_and_nothing_else() {
        let params: HashMap<String, String> = [("a", "true"), ("b", "false"), ("c", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut q = QueryValidator::new(&params);
        assert_eq!(
            (q.bool("a"), q.bool("b"), q.bool("c"), q.bool("d")),
            (Some(true), Some(false), None, None)
        );
        let err = q.finish().unwrap_err();
        assert_eq!(err.errors[0].message, "\"c\" must be a boolean");
    }
}
