//! A subscriber: a named base URL that receives every event at `<url>/events`.

/// One configured subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Stable name, the key of its delivery rows (`orders`, or `localhost:4003` when unnamed).
    pub name: String,
    /// Base URL without a trailing slash.
    pub url: String,
}

impl Subscriber {
    /// Parses one `EVENT_SUBSCRIBERS` entry: `name=url` or a bare `url` (named by its host:port).
    pub fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        let (name, url) = match entry.split_once('=') {
            Some((n, u)) if !n.contains('/') && !n.contains(':') => {
                (Some(n.trim().to_string()), u.trim())
            }
            _ => (None, entry),
        };
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| format!("{entry:?} is not an http(s) URL"))?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty() {
            return Err(format!("{entry:?} has no host"));
        }
        let name = name.unwrap_or_else(|| host.to_string());
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !name_ok {
            return Err(format!(
                "{entry:?}: subscriber name must be 1-64 of [A-Za-z0-9-_.:]"
            ));
        }
        Ok(Self {
            name,
            url: url.trim_end_matches('/').to_string(),
        })
    }

    /// Where deliveries are posted.
    pub fn events_url(&self) -> String {
        format!("{}/events", self.url)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn named_and_bare_entries_parse() {
        let s = Subscriber::parse(" orders=http://order-service:4003/ ").unwrap();
        assert_eq!(s.name, "orders");
        assert_eq!(s.events_url(), "http://order-service:4003/events");
        let s = Subscriber::parse("http://localhost:4004").unwrap();
        assert_eq!(s.name, "localhost:4004");
        assert_eq!(s.url, "http://localhost:4004");
    }

    #[test]
    fn bad_entries_are_rejected() {
        assert!(Subscriber::parse("ftp://x").is_err());
        assert!(Subscriber::parse("orders=localhost:4003").is_err());
        assert!(Subscriber::parse("http://").is_err());
        assert!(Subscriber::parse("bad name=http://x:1").is_err());
    }
}
