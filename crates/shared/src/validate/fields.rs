//! The typed field readers of [`Validator`]: strings and multi-line text, emails, enumerations,
//! booleans, integers, money, arrays, objects and ids; each records an error and returns `None`
//! when the field is missing or wrong.

use super::text::{has_control, is_email, Lines, CONTROL_MESSAGE};
use super::Validator;
use serde_json::{Map, Value};

impl<'a> Validator<'a> {
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
        let s = self.plain_str(key, v, lines)?;
        self.within_length(key, s.trim(), min, max)
    }

    /// A required string kept exactly as sent (passwords), with a length range in characters.
    pub fn raw_string(&mut self, key: &'static str, min: usize, max: usize) -> Option<String> {
        let v = self.required(key)?;
        let s = self.plain_str(key, v, Lines::Single)?;
        self.within_length(key, s, min, max)
    }

    /// `v` as a string without control characters (but the line breaks `lines` allows).
    fn plain_str<'v>(&mut self, key: &str, v: &'v Value, lines: Lines) -> Option<&'v str> {
        let Some(s) = v.as_str() else {
            self.error(key, "must be a string");
            return None;
        };
        if has_control(s, lines) {
            self.error(key, CONTROL_MESSAGE);
            return None;
        }
        Some(s)
    }

    /// `s` when its length in characters is within `min..=max` (`min` ≥ 1 refuses an empty one
    /// as empty), else the error said the Joi way.
    fn within_length(&mut self, key: &str, s: &str, min: usize, max: usize) -> Option<String> {
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
}
