//! A subscriber: a named base URL that receives events at `<url>/events`, every event or only those
//! of the types it subscribed to; and its subscription, what the store needs to know of it.

/// Longest event type name a subscription may list.
const MAX_TYPE_LEN: usize = 100;

/// One configured subscriber: where its deliveries go, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    /// Base URL without a trailing slash.
    pub url: String,
    /// Its name and the event types it receives.
    pub subscription: Subscription,
}

/// Who gets a delivery of an event: a subscriber's name and the event types it receives (all
/// the store needs to know of a subscriber).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Stable name, the key of its delivery rows (`orders`, or `localhost:4003` when unnamed).
    pub name: String,
    /// The event types it receives; `None` for every type.
    pub types: Option<Vec<String>>,
}

impl Subscription {
    /// A subscription to every event type.
    pub fn all(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            types: None,
        }
    }

    /// A subscription to the given event types only.
    pub fn only(name: impl Into<String>, types: &[&str]) -> Self {
        Self {
            name: name.into(),
            types: Some(types.iter().map(ToString::to_string).collect()),
        }
    }

    /// Whether an event of `event_type` is delivered to this subscriber.
    pub fn wants(&self, event_type: &str) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == event_type))
    }
}

/// Parses one `EVENT_SUBSCRIPTIONS` entry, `name=Type|Type…`, into the name and its types.
pub fn parse_subscription(entry: &str) -> Result<(String, Vec<String>), String> {
    let (name, types) = entry
        .split_once('=')
        .ok_or_else(|| format!("{entry:?} is not name=Type|Type"))?;
    let types: Vec<String> = types.split('|').map(|t| t.trim().to_string()).collect();
    let type_ok = |t: &String| {
        !t.is_empty()
            && t.len() <= MAX_TYPE_LEN
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    };
    if !types.iter().all(type_ok) {
        return Err(format!(
            "{entry:?}: each event type must be 1-{MAX_TYPE_LEN} of [A-Za-z0-9-_.:]"
        ));
    }
    Ok((name.trim().to_string(), types))
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
            url: url.trim_end_matches('/').to_string(),
            subscription: Subscription::all(name),
        })
    }

    /// Its name, the key of its delivery rows.
    pub fn name(&self) -> &str {
        &self.subscription.name
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
        assert_eq!(s.name(), "orders");
        assert_eq!(s.events_url(), "http://order-service:4003/events");
        let s = Subscriber::parse("http://localhost:4004").unwrap();
        assert_eq!(s.name(), "localhost:4004");
        assert_eq!(s.url, "http://localhost:4004");
    }

    #[test]
    fn bad_entries_are_rejected() {
        assert!(Subscriber::parse("ftp://x").is_err());
        assert!(Subscriber::parse("orders=localhost:4003").is_err());
        assert!(Subscriber::parse("http://").is_err());
        assert!(Subscriber::parse("bad name=http://x:1").is_err());
    }

    #[test]
    fn a_subscription_wants_its_types_or_every_type() {
        let all = Subscription::all("orders");
        assert!(all.wants("OrderCreated") && all.wants("Anything"));
        let some = Subscription::only("payments", &["OrderCreated", "OrderCancelled"]);
        assert!(some.wants("OrderCreated") && some.wants("OrderCancelled"));
        assert!(!some.wants("OrderUpdated") && !some.wants("ordercreated"));
    }

    #[test]
    fn subscription_entries_parse_or_say_why_not() {
        assert_eq!(
            parse_subscription(" orders = PaymentProcessed | PaymentFailed").unwrap(),
            (
                "orders".to_string(),
                vec!["PaymentProcessed".to_string(), "PaymentFailed".to_string()]
            )
        );
        for bad in [
            "orders",
            "orders=",
            "orders=A||B",
            "orders=A B",
            "orders=A|<b>",
        ] {
            assert!(parse_subscription(bad).is_err(), "{bad}");
        }
    }
}
