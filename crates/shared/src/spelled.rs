//! String enums: a service's enum derives its spellings with strum (`EnumString`,
//! `IntoStaticStr`, `VariantNames`), and [`spelled!`](crate::spelled) gives it the two methods
//! every caller uses, once for all of them.

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
}
