//! Money on the wire is a JSON number with at most 2 decimals; inside it is integer cents.

use serde_json::Value;

/// The largest amount of money the wire takes (10 trillion).
pub const MAX_MONEY: f64 = 1e13;

/// Parses a JSON number with at most two decimals into non-negative cents.
pub fn parse_cents(v: &Value) -> Result<i64, &'static str> {
    let Some(f) = v.as_f64().filter(|_| v.is_number()) else {
        return Err("must be a number");
    };
    if !f.is_finite() {
        return Err("must be a number");
    }
    if f < 0.0 {
        return Err("must be greater than or equal to 0");
    }
    if f > MAX_MONEY {
        return Err("must be less than or equal to 10000000000000");
    }
    let cents = (f * 100.0).round();
    if ((cents / 100.0) - f).abs() > 1e-9 {
        return Err("must have at most 2 decimal places");
    }
    Ok(cents as i64)
}

/// Cents as the JSON number clients see (`99999` → `999.99`).
pub fn cents_to_json(cents: i64) -> Value {
    if cents % 100 == 0 {
        Value::from(cents / 100)
    } else {
        // Exact for two decimals: the shortest float repr of x.yz is "x.yz".
        Value::from(cents as f64 / 100.0)
    }
}

/// Cents as a decimal string (`99999` → `"999.99"`).
pub fn format_cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// Serde helpers to (de)serialize an `i64` cents field as a JSON money number.
pub mod as_money {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes cents as a JSON number with up to 2 decimals.
    pub fn serialize<S: Serializer>(cents: &i64, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&super::cents_to_json(*cents), s)
    }

    /// Reads a JSON money number as cents.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        super::parse_cents(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_two_decimals_exactly() {
        assert_eq!(parse_cents(&json!(999.99)), Ok(99999));
        assert_eq!(parse_cents(&json!(0.1)), Ok(10));
        assert_eq!(parse_cents(&json!(5)), Ok(500));
        assert_eq!(
            parse_cents(&json!(1.005)).unwrap_err(),
            "must have at most 2 decimal places"
        );
        assert!(parse_cents(&json!(-1)).is_err());
        assert!(parse_cents(&json!("9.5")).is_err());
    }

    #[test]
    fn renders_cents_as_numbers() {
        assert_eq!(cents_to_json(99999), json!(999.99));
        assert_eq!(cents_to_json(500), json!(5));
        assert_eq!(cents_to_json(10), json!(0.1));
        assert_eq!(format_cents(1005), "10.05");
    }
}
