//! String enums: a service's enum derives its spellings with strum (`EnumString`,
//! `IntoStaticStr`, `VariantNames`), and [`spelled!`](crate::spelled) gives it the two methods
//! every caller uses, once for all of them; [`stored`] keeps such a field of a stored shape as its
//! spelling.

/// `as_str` (the spelling, on the wire and in storage) and `parse` (`None` for an unknown
/// spelling) for a string enum deriving strum's `IntoStaticStr` and `EnumString`.
#[macro_export]
macro_rules! spelled {
    ($enum:ty) => {
        impl $enum {
            /// The spelling, on the wire and in storage.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The value spelled `s`, if any.
            pub fn parse(s: &str) -> Option<Self> {
                s.parse().ok()
            }
        }
    };
}

/// A string enum field of a stored shape (a row or a document), kept as its spelling:
/// `#[serde(with = "shared::spelled::stored")] status: PaymentStatus`. A stored spelling that names
/// no value fails the read, as [`crate::store::parse_stored`] does: `stored PaymentStatus is
/// invalid: "…"`.
pub mod stored {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the value's spelling.
    pub fn serialize<T, S>(value: &T, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Copy + Into<&'static str>,
        S: Serializer,
    {
        serializer.serialize_str((*value).into())
    }

    /// Reads a spelling back into the value it names.
    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<T, D::Error>
    where
        T: std::str::FromStr,
        D: Deserializer<'de>,
    {
        let spelling = String::deserialize(deserializer)?;
        spelling.parse().map_err(|_| {
            // Worded as `store::parse_stored` words it, the type standing for the field's name.
            let what = std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("value");
            D::Error::custom(format!("stored {what} is invalid: {spelling:?}"))
        })
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, Clone, Copy, PartialEq, strum::EnumString, strum::IntoStaticStr)]
    #[strum(serialize_all = "snake_case")]
    enum Light {
        Red,
        GreenArrow,
    }

    crate::spelled!(Light);

    #[test]
    fn an_enum_reads_and_writes_its_spellings() {
        assert_eq!(Light::GreenArrow.as_str(), "green_arrow");
        assert_eq!(Light::parse("red"), Some(Light::Red));
        assert_eq!(Light::parse("Red"), None);
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Row {
        #[serde(with = "super::stored")]
        light: Light,
    }

    #[test]
    fn a_stored_field_is_its_spelling_and_an_unknown_one_is_refused() {
        let row = Row {
            light: Light::GreenArrow,
        };
        let text = serde_json::to_string(&row).unwrap();
        assert_eq!(text, r#"{"light":"green_arrow"}"#);
        assert_eq!(serde_json::from_str::<Row>(&text).unwrap(), row);
        let e = serde_json::from_str::<Row>(r#"{"light":"blue"}"#).unwrap_err();
        assert!(
            e.to_string().contains(r#"stored Light is invalid: "blue""#),
            "{e}"
        );
        assert!(serde_json::from_str::<Row>(r#"{"light":3}"#).is_err());
    }
}
