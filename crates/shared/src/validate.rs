//! Validation of JSON request bodies and query strings that reports every bad field at once, with
//! messages in the style of the original's Joi messages (`"name" is required`). Unknown fields are errors.

use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Collects field errors while reading typed values out of a JSON object.
pub struct Validator<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    known: Vec<&'static str>,
    errors: Vec<FieldError>,
}

/// Formats a dotted path (`items.0.quantity`) as the Joi label (`items[0].quantity`).
pub(crate) fn label(path: &str) -> String {
    let mut out = String::new();
    for (i, part) in path.split('.').enumerate() {
        if part.chars().all(|c| c.is_ascii_digit()) && i > 0 {
            out.push_str(&format!("[{part}]"));
        } else {
            if i > 0 {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

impl<'a> Validator<'a> {
    /// Starts validating `value`, which must be a JSON object.
    pub fn new(value: &'a Value) -> Result<Self, ApiError> {
        match value.as_object() {
            Some(obj) => Ok(Self::nested(obj, "")),
            None => Err(ApiError::validation(vec![FieldError::new(
                "body",
                "\"value\" must be of type object",
            )])),
        }
    }

    /// Validates a nested object whose fields are reported under `prefix`.
    pub fn nested(obj: &'a Map<String, Value>, prefix: &str) -> Self {
        Self {
            obj,
            prefix: prefix.to_string(),
            known: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The dotted path of `key` under this validator's prefix.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// Records an error for `key` with a message built from its label.
    pub fn error(&mut self, key: &str, what: &str) {
        let path = self.path(key);
        let message = format!("\"{}\" {what}", label(&path));
        self.errors.push(FieldError::new(path, message));
    }

    /// Records an error at an absolute path.
    pub fn error_at(&mut self, path: String, what: &str) {
        let message = format!("\"{}\" {what}", label(&path));
        self.errors.push(FieldError::new(path, message));
    }

    /// How many errors are recorded so far.
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Adds errors collected by a nested validator.
    pub fn extend(&mut self, errors: Vec<FieldError>) {
        self.errors.extend(errors);
    }

    /// Raw access to a field (marks it as known). `None` when absent or null.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        match self.obj.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn required(&mut self, key: &'static str) -> Option<&'a Value> {
        let v = self.raw(key);
        if v.is_none() {
            self.error(key, "is required");
        }
        v
    }

    /// A required string, trimmed, with a length range in characters.
    pub fn string(&mut self, key: &'static str, min: usize, max: usize) -> Option<String> {
        let v = self.required(key)?;
        self.check_string(key, v, min, max)
    }

    /// An optional string (absent or null gives `None`), trimmed, with a length range.
    pub fn opt_string(&mut self, key: &'static str, min: usize, max: usize) -> Option<String> {
        let v = self.raw(key)?;
        self.check_string(key, v, min, max)
    }

    /// A required multi-line text (descriptions): like [`Validator::string`], but tab and
    /// newline are allowed.
    pub fn text(&mut self, key: &'static str, min: usize, max: usize) -> Option<String> {
        let v = self.required(key)?;
        self.check_text(key, v, min, max, Lines::Multi)
    }

    /// An optional multi-line text.
    pub fn opt_text(&mut self, key: &'static str, min: usize, max: usize) -> Option<String> {
        let v = self.raw(key)?;
        self.check_text(key, v, min, max, Lines::Multi)
    }

    fn check_string(&mut self, key: &str, v: &Value, min: usize, max: usize) -> Option<String> {
        self.check_text(key, v, min, max, Lines::Single)
    }

    fn check_text(
        &mut self,
        key: &str,
        v: &Value,
        min: usize,
        max: usize,
        lines: Lines,
    ) -> Option<String> {
        let Some(s) = v.as_str() else {
            self.error(key, "must be a string");
            return None;
        };
        if has_control(s, lines) {
            self.error(key, CONTROL_MESSAGE);
            return None;
        }
        let s = s.trim();
        let len = s.chars().count();
        if len == 0 && min > 0 {
            self.error(key, "is not allowed to be empty");
            None
        } else if len < min {
            self.error(
                key,
                &format!("length must be at least {min} characters long"),
            );
            None
        } else if len > max {
            self.error(
                key,
                &format!("length must be less than or equal to {max} characters long"),
            );
            None
        } else {
            Some(s.to_string())
        }
    }

    /// A required string kept exactly as sent (passwords), with a length range in characters.
    pub fn raw_string(&mut self, key: &'static str, min: usize, max: usize) -> Option<String> {
        let v = self.required(key)?;
        let Some(s) = v.as_str() else {
            self.error(key, "must be a string");
            return None;
        };
        if has_control(s, Lines::Single) {
            self.error(key, CONTROL_MESSAGE);
            return None;
        }
        let len = s.chars().count();
        if len == 0 {
            self.error(key, "is not allowed to be empty");
            None
        } else if len < min {
            self.error(
                key,
                &format!("length must be at least {min} characters long"),
            );
            None
        } else if len > max {
            self.error(
                key,
                &format!("length must be less than or equal to {max} characters long"),
            );
            None
        } else {
            Some(s.to_string())
        }
    }

    /// A required email address, lower-cased and trimmed.
    pub fn email(&mut self, key: &'static str) -> Option<String> {
        let s = self.string(key, 1, 254)?;
        if is_email(&s) {
            Some(s.to_lowercase())
        } else {
            self.error(key, "must be a valid email");
            None
        }
    }

    /// One of a fixed set of strings.
    pub fn one_of(
        &mut self,
        key: &'static str,
        allowed: &[&str],
        required: bool,
    ) -> Option<String> {
        let v = if required {
            self.required(key)?
        } else {
            self.raw(key)?
        };
        match v.as_str() {
            Some(s) if allowed.contains(&s) => Some(s.to_string()),
            _ => {
                self.error(key, &format!("must be one of [{}]", allowed.join(", ")));
                None
            }
        }
    }

    /// A boolean (optional).
    pub fn opt_bool(&mut self, key: &'static str) -> Option<bool> {
        let v = self.raw(key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.error(key, "must be a boolean");
                None
            }
        }
    }

    /// A required integer in a range.
    pub fn int(&mut self, key: &'static str, min: i64, max: i64) -> Option<i64> {
        let v = self.required(key)?;
        self.check_int(key, v, min, max)
    }

    /// An optional integer in a range.
    pub fn opt_int(&mut self, key: &'static str, min: i64, max: i64) -> Option<i64> {
        let v = self.raw(key)?;
        self.check_int(key, v, min, max)
    }

    fn check_int(&mut self, key: &str, v: &Value, min: i64, max: i64) -> Option<i64> {
        let Some(n) = v.as_f64().filter(|_| v.is_number()) else {
            self.error(key, "must be a number");
            return None;
        };
        if n.fract() != 0.0 || !n.is_finite() {
            self.error(key, "must be an integer");
            return None;
        }
        if n < min as f64 {
            self.error(key, &format!("must be greater than or equal to {min}"));
            return None;
        }
        if n > max as f64 {
            self.error(key, &format!("must be less than or equal to {max}"));
            return None;
        }
        Some(n as i64)
    }

    /// A required money amount (JSON number, at most 2 decimals, 0..=max) as integer cents.
    pub fn money(&mut self, key: &'static str, max_cents: i64) -> Option<i64> {
        let v = self.required(key)?;
        self.check_money(key, v, max_cents)
    }

    /// An optional money amount as integer cents.
    pub fn opt_money(&mut self, key: &'static str, max_cents: i64) -> Option<i64> {
        let v = self.raw(key)?;
        self.check_money(key, v, max_cents)
    }

    fn check_money(&mut self, key: &str, v: &Value, max_cents: i64) -> Option<i64> {
        match crate::money::parse_cents(v) {
            Ok(c) if c <= max_cents => Some(c),
            Ok(_) => {
                self.error(
                    key,
                    &format!(
                        "must be less than or equal to {}",
                        crate::money::format_cents(max_cents)
                    ),
                );
                None
            }
            Err(msg) => {
                self.error(key, msg);
                None
            }
        }
    }

    /// A required array with a length range; returns the items for the caller to check.
    pub fn array(&mut self, key: &'static str, min: usize, max: usize) -> Option<&'a Vec<Value>> {
        let v = self.required(key)?;
        self.check_array(key, v, min, max)
    }

    /// An optional array with a length range.
    pub fn opt_array(
        &mut self,
        key: &'static str,
        min: usize,
        max: usize,
    ) -> Option<&'a Vec<Value>> {
        let v = self.raw(key)?;
        self.check_array(key, v, min, max)
    }

    fn check_array(
        &mut self,
        key: &str,
        v: &'a Value,
        min: usize,
        max: usize,
    ) -> Option<&'a Vec<Value>> {
        let Some(items) = v.as_array() else {
            self.error(key, "must be an array");
            return None;
        };
        if items.len() < min {
            self.error(key, &format!("must contain at least {min} items"));
            None
        } else if items.len() > max {
            self.error(
                key,
                &format!("must contain less than or equal to {max} items"),
            );
            None
        } else {
            Some(items)
        }
    }

    /// A required JSON object; returns it for a nested validator.
    pub fn object(&mut self, key: &'static str) -> Option<&'a Map<String, Value>> {
        let v = self.required(key)?;
        match v.as_object() {
            Some(o) => Some(o),
            None => {
                self.error(key, "must be of type object");
                None
            }
        }
    }

    /// An optional JSON object.
    pub fn opt_object(&mut self, key: &'static str) -> Option<&'a Map<String, Value>> {
        let v = self.raw(key)?;
        match v.as_object() {
            Some(o) => Some(o),
            None => {
                self.error(key, "must be of type object");
                None
            }
        }
    }

    /// A required 24-hex ObjectId string.
    pub fn object_id(&mut self, key: &'static str) -> Option<String> {
        let v = self.required(key)?;
        match v.as_str() {
            Some(s) if crate::ids::is_object_id(s) => Some(s.to_ascii_lowercase()),
            Some(_) => {
                self.error(key, "must be a valid id");
                None
            }
            None => {
                self.error(key, "must be a string");
                None
            }
        }
    }

    /// Finishes: unknown keys become `"<key>" is not allowed`; any error gives a validation failure.
    pub fn finish(self) -> Result<(), ApiError> {
        let errors = self.finish_nested();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(errors))
        }
    }

    /// Finishes a nested validator, returning its errors for the parent to `extend`.
    pub fn finish_nested(mut self) -> Vec<FieldError> {
        let unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            self.error(&k, "is not allowed");
        }
        self.errors
    }
}

const CONTROL_MESSAGE: &str = "must not contain control characters";

/// Whether a text may span lines (tab and newline allowed) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lines {
    Single,
    Multi,
}

/// NUL and every other control character (C0, DEL, C1), except tab and newline in multi-line text.
fn has_control(s: &str, lines: Lines) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(lines == Lines::Multi && matches!(c, '\t' | '\n')))
}

/// Checks free-form JSON that is stored as sent (product `metadata`) at `path`: object keys must
/// not start with `$` or contain `.` (MongoDB would read them as operators and paths), and no key
/// or string may hold a control character. Every offending place is reported.
pub fn check_stored_json(v: &mut Validator<'_>, path: &str, value: &Value) {
    match value {
        Value::String(s) if has_control(s, Lines::Single) => {
            v.error_at(path.into(), CONTROL_MESSAGE)
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_stored_json(v, &format!("{path}.{i}"), item);
            }
        }
        Value::Object(obj) => {
            for (key, item) in obj {
                let at = format!("{path}.{key}");
                if key.starts_with('$') || key.contains('.') {
                    v.error_at(at.clone(), "key must not start with \"$\" or contain \".\"");
                } else if has_control(key, Lines::Single) {
                    v.error_at(at.clone(), "key must not contain control characters");
                }
                check_stored_json(v, &at, item);
            }
        }
        _ => {}
    }
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain of sane labels.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || s.chars().any(char::is_whitespace)
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

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
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_every_bad_field_and_unknown_keys() {
        let body = json!({"name": "J", "email": "nope", "extra": 1});
        let mut v = Validator::new(&body).unwrap();
        v.string("name", 2, 50);
        v.email("email");
        v.raw_string("password", 8, 128);
        let err = v.finish().unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "password", "extra"]);
        assert_eq!(
            err.errors[0].message,
            "\"name\" length must be at least 2 characters long"
        );
        assert_eq!(err.errors[2].message, "\"password\" is required");
        assert_eq!(err.errors[3].message, "\"extra\" is not allowed");
    }

    #[test]
    fn nested_paths_use_dots_in_field_and_brackets_in_label() {
        let body = json!({"items": [{"quantity": 0}]});
        let mut v = Validator::new(&body).unwrap();
        let items = v.array("items", 1, 10).unwrap();
        let obj = items[0].as_object().unwrap();
        let mut item = Validator::nested(obj, "items.0");
        item.int("quantity", 1, 1000);
        v.extend(item.finish_nested());
        let err = v.finish().unwrap_err();
        assert_eq!(err.errors[0].field, "items.0.quantity");
        assert_eq!(
            err.errors[0].message,
            "\"items[0].quantity\" must be greater than or equal to 1"
        );
    }

    #[test]
    fn integers_reject_fractions_and_strings() {
        let body = json!({"a": 1.5, "b": "3"});
        let mut v = Validator::new(&body).unwrap();
        assert_eq!(v.int("a", 0, 10), None);
        assert_eq!(v.int("b", 0, 10), None);
        let err = v.finish().unwrap_err();
        assert_eq!(err.errors[0].message, "\"a\" must be an integer");
        assert_eq!(err.errors[1].message, "\"b\" must be a number");
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert!(is_email("john@example.com"));
        assert!(!is_email("john@localhost"));
        assert!(!is_email("a b@example.com"));
        let body = json!({"email": "  John@Example.COM "});
        let mut v = Validator::new(&body).unwrap();
        assert_eq!(v.email("email").as_deref(), Some("john@example.com"));
    }

    #[test]
    fn control_characters_are_refused_except_tab_and_newline_in_text() {
        let body = json!({
            "name": "nul\u{0}byte", "sku": "tab\there", "password": "pass\u{7f}word1",
            "about": "line one\n\tline two", "bad": "bell\u{7}", "c1": "x\u{85}y"
        });
        let mut v = Validator::new(&body).unwrap();
        assert_eq!(v.string("name", 1, 50), None);
        assert_eq!(v.string("sku", 1, 50), None);
        assert_eq!(v.raw_string("password", 8, 128), None);
        assert_eq!(
            v.text("about", 1, 100).as_deref(),
            Some("line one\n\tline two")
        );
        assert_eq!(v.opt_text("bad", 1, 100), None);
        assert_eq!(v.opt_string("c1", 1, 100), None);
        let err = v.finish().unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "sku", "password", "bad", "c1"]);
        assert_eq!(
            err.errors[0].message,
            "\"name\" must not contain control characters"
        );
    }

    #[test]
    fn stored_json_refuses_operator_keys_dotted_keys_and_control_characters() {
        let body = json!({"m": {
            "$where": 1, "a.b": 2, "ok": {"$gt": "", "list": ["fine", "nul\u{0}"]},
            "k\u{1}": "v", "x$": "allowed"
        }});
        let mut v = Validator::new(&body).unwrap();
        let m = v.raw("m").unwrap();
        check_stored_json(&mut v, "m", m);
        let err = v.finish().unwrap_err();
        let mut fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(
            fields,
            ["m.$where", "m.a.b", "m.k\u{1}", "m.ok.$gt", "m.ok.list.1"]
        );
        let msg = &err
            .errors
            .iter()
            .find(|e| e.field == "m.$where")
            .unwrap()
            .message;
        assert_eq!(
            msg,
            "\"m.$where\" key must not start with \"$\" or contain \".\""
        );
    }

    #[test]
    fn non_object_body_is_a_validation_error() {
        assert!(Validator::new(&json!([1])).is_err());
    }

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
}
