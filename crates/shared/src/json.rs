//! Parsing request bodies into JSON trees whose size is bounded while they are built: a count of
//! values and a nesting depth, so a hostile 1 MiB body (half a million array elements where a
//! string is expected) is refused after a few thousand values instead of growing the process by
//! tens of MiB. The refusal is a `validation_failed` naming the field where the limit was reached.

use crate::error::{ApiError, FieldError};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::{Cell, RefCell};
use std::fmt;

/// How big a JSON request body may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Largest body in bytes (413 above it).
    pub max_bytes: usize,
    /// Most values (scalars, arrays, objects and object keys) in the body.
    pub max_values: usize,
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
}

impl BodyLimits {
    /// Public write endpoints: 1 MiB, 10,000 values, 32 levels. A product with 16 KiB of metadata
    /// or an order of 50 lines needs a small fraction of that.
    pub const DEFAULT: Self = Self {
        max_bytes: 1024 * 1024,
        max_values: 10_000,
        max_depth: 32,
    };

    /// Bodies that are a few short strings (auth): 16 KiB.
    pub const SMALL: Self = Self {
        max_bytes: 16 * 1024,
        max_values: 1_000,
        max_depth: 32,
    };

    /// Event batches between services (internal token checked before the body is read): up to
    /// 500 events of 50-line orders.
    pub const EVENTS: Self = Self {
        max_bytes: 1024 * 1024,
        max_values: 200_000,
        max_depth: 32,
    };
}

/// Parses `bytes` as one JSON value within `limits` (values and depth; the caller bounds bytes).
/// Syntax errors are 400 `malformed_json`; a limit reached is 400 `validation_failed`.
pub fn parse_bounded(bytes: &[u8], limits: BodyLimits) -> Result<Value, ApiError> {
    let budget = Budget {
        left: Cell::new(limits.max_values),
        limits,
        failure: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Node {
        budget: &budget,
        depth: 0,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, budget.failure.into_inner()) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(failure)) => Err(failure.into_error()),
        (Err(e), None) => Err(ApiError::bad_request(
            "malformed_json",
            format!("Malformed JSON: {e}"),
        )),
    }
}

/// What ran out, and where (the path of the array or object being read, outermost segment last).
struct Failure {
    reversed_path: Vec<String>,
    /// The first container to see the failure is the one to name: it does not add its child's
    /// segment.
    named: bool,
    /// `Some(max_depth)` when the nesting was too deep, else the value count ran out.
    too_deep: Option<usize>,
}

impl Failure {
    fn into_error(self) -> ApiError {
        let field = if self.reversed_path.is_empty() {
            "body".to_string()
        } else {
            self.reversed_path
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(".")
        };
        let label = if field == "body" {
            "value".to_string()
        } else {
            crate::validate::label(&field)
        };
        let message = match self.too_deep {
            Some(max) => format!("\"{label}\" is nested too deeply (at most {max} levels)"),
            None => format!("\"{label}\" holds too many values for one request"),
        };
        ApiError::validation(vec![FieldError::new(field, message)])
    }
}

struct Budget {
    left: Cell<usize>,
    limits: BodyLimits,
    failure: RefCell<Option<Failure>>,
}

impl Budget {
    fn fail<E: de::Error>(&self, too_deep: Option<usize>) -> E {
        *self.failure.borrow_mut() = Some(Failure {
            reversed_path: Vec::new(),
            named: false,
            too_deep,
        });
        E::custom("request body limit reached")
    }

    /// Adds `segment` to the path of a failure coming up from a child of the container at it.
    fn passing_up(&self, segment: impl FnOnce() -> String) {
        if let Some(f) = self.failure.borrow_mut().as_mut() {
            if f.named {
                f.reversed_path.push(segment());
            } else {
                f.named = true;
            }
        }
    }
}

/// One value being parsed at `depth`.
#[derive(Clone, Copy)]
struct Node<'a> {
    budget: &'a Budget,
    depth: usize,
}

impl Node<'_> {
    fn take<E: de::Error>(&self) -> Result<(), E> {
        match self.budget.left.get().checked_sub(1) {
            Some(left) => {
                self.budget.left.set(left);
                Ok(())
            }
            None => Err(self.budget.fail(None)),
        }
    }

    /// Counts a container and checks its depth; returns the node its children are read with.
    fn open<E: de::Error>(&self) -> Result<Self, E> {
        self.take()?;
        if self.depth >= self.budget.limits.max_depth {
            return Err(self.budget.fail(Some(self.budget.limits.max_depth)));
        }
        Ok(Node {
            budget: self.budget,
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.take()?;
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.take()?;
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.take()?;
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        self.take()?;
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.take()?;
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        self.take()?;
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.take()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.open()?;
        let mut items = Vec::new();
        loop {
            match seq.next_element_seed(child) {
                Ok(Some(v)) => items.push(v),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => {
                    self.budget.passing_up(|| items.len().to_string());
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.open()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if let Err(e) = child.take::<A::Error>() {
                self.budget.passing_up(String::new);
                return Err(e);
            }
            match map.next_value_seed(child) {
                Ok(v) => {
                    out.insert(key, v);
                }
                Err(e) => {
                    self.budget.passing_up(|| key);
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits(max_values: usize, max_depth: usize) -> BodyLimits {
        BodyLimits {
            max_bytes: 1 << 20,
            max_values,
            max_depth,
        }
    }

    fn refused(body: &str, l: BodyLimits) -> (String, String) {
        let e = parse_bounded(body.as_bytes(), l).unwrap_err();
        assert_eq!(e.code, "validation_failed", "{}", e.message);
        (e.errors[0].field.clone(), e.errors[0].message.clone())
    }

    #[test]
    fn parses_like_serde_json_within_the_limits() {
        let body = r#"{"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":0.9259398872314291}"#;
        let v = parse_bounded(body.as_bytes(), BodyLimits::DEFAULT).unwrap();
        assert_eq!(v, serde_json::from_str::<Value>(body).unwrap());
        assert_eq!(v["c"], json!(0.925_939_887_231_429_1));
    }

    #[test]
    fn a_huge_array_where_a_string_belongs_is_named_by_its_field() {
        let big = format!(
            r#"{{"name":"ok","tags":{{"list":[{}1]}}}}"#,
            "1,".repeat(50_000)
        );
        let (field, message) = refused(&big, BodyLimits::DEFAULT);
        assert_eq!(field, "tags.list");
        assert_eq!(
            message,
            "\"tags.list\" holds too many values for one request"
        );
        let (field, _) = refused(&format!("[{}1]", "1,".repeat(20)), limits(10, 32));
        assert_eq!(field, "body");
    }

    #[test]
    fn too_many_keys_and_too_deep_nesting_are_refused() {
        let keys: Vec<String> = (0..20).map(|i| format!("\"k{i}\":1")).collect();
        let (field, _) = refused(
            &format!(r#"{{"m":{{{}}}}}"#, keys.join(",")),
            limits(15, 32),
        );
        assert_eq!(field, "m");
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let (field, message) = refused(&format!(r#"{{"a":{deep}}}"#), BodyLimits::DEFAULT);
        assert!(field.starts_with("a.0.0"), "{field}");
        assert!(
            message.ends_with("is nested too deeply (at most 32 levels)"),
            "{message}"
        );
    }

    #[test]
    fn syntax_errors_stay_malformed_json() {
        for body in ["{bad", "[1,2", "{} {}", "\"\\uZZZZ\""] {
            let e = parse_bounded(body.as_bytes(), BodyLimits::DEFAULT).unwrap_err();
            assert_eq!(e.code, "malformed_json", "{body}");
        }
    }
}
