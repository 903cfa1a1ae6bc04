//! Validation of JSON request bodies and query strings that reports every bad field at once, with
//! messages in the style of the original's Joi messages (`"name" is required`). Unknown fields are errors.
//! The collector itself is here; the typed field readers are in `fields`, the checks of text
//! (control characters, emails, JSON stored as sent) in `text`, query strings in `query`.

mod fields;
mod query;
mod text;

pub use query::QueryValidator;
pub use text::{check_stored_json, is_email};

use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};

/// Collects field errors while reading typed values out of a JSON object.
pub struct Validator<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    known: Vec<&'static str>,
    errors: Vec<FieldError>,
    /// Every field optional: a partial update.
    partial: bool,
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
            partial: false,
        }
    }

    /// The same validator for a partial update: the readers of required fields take an absent
    /// field as not given (`None`, no error), as the `opt_` readers do.
    pub fn partial(mut self) -> Self {
        self.partial = true;
        self
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
        if v.is_none() && !self.partial {
            self.error(key, "is required");
        }
        v
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
}
