//! Which rate-limit rule a proxied request falls under and the counting itself: login/register
//! per client (strict), writes per client and per user, reads per client (generous).

use crate::config::RateLimits;
use hyper::Method;
use shared::rate_limit::{RateDecision, RateLimiter, RateRule};
use std::net::IpAddr;

/// The rule family of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `POST /api/auth/login` and `POST /api/auth/register`.
    Credentials,
    /// Any other method than GET/HEAD.
    Write,
    /// GET and HEAD.
    Read,
}

/// The class of `method path`.
pub fn classify(method: &Method, path: &str) -> Class {
    if method == Method::GET || method == Method::HEAD {
        Class::Read
    } else if method == Method::POST
        && matches!(
            path.trim_end_matches('/'),
            "/api/auth/login" | "/api/auth/register"
        )
    {
        Class::Credentials
    } else {
        Class::Write
    }
}

/// What counting decided.
pub enum Verdict {
    /// Proceed; the decision (if any) becomes the `RateLimit-*` headers.
    Allow(Option<RateDecision>),
    /// Refuse with 429.
    Refuse(RateDecision),
}

/// The per-client counter keys of one client address, made once per connection.
#[derive(Debug, Clone)]
pub struct ClientKeys {
    credentials: String,
    write: String,
    read: String,
}

impl ClientKeys {
    /// The keys of client `ip`.
    pub fn new(ip: IpAddr) -> Self {
        Self {
            credentials: format!("gw:auth:{ip}"),
            write: format!("gw:write:ip:{ip}"),
            read: format!("gw:read:{ip}"),
        }
    }

    fn of(&self, class: Class) -> &str {
        match class {
            Class::Credentials => &self.credentials,
            Class::Write => &self.write,
            Class::Read => &self.read,
        }
    }
}

/// Counts the request against its rule(s). A limiter that cannot answer lets the request through
/// (logged): losing the limiter must not take the shop down.
pub async fn check(
    limiter: &dyn RateLimiter,
    limits: &RateLimits,
    class: Class,
    client: &ClientKeys,
    user: Option<&str>,
) -> Verdict {
    if !limits.enabled {
        return Verdict::Allow(None);
    }
    let rule = match class {
        Class::Credentials => limits.auth,
        Class::Write => limits.write,
        Class::Read => limits.read,
    };
    let Some(first) = hit(limiter, client.of(class), rule).await else {
        return Verdict::Allow(None);
    };
    if !first.allowed {
        return Verdict::Refuse(first);
    }
    let (Class::Write, Some(user)) = (class, user) else {
        return Verdict::Allow(Some(first));
    };
    match hit(limiter, &format!("gw:write:user:{user}"), limits.write).await {
        Some(d) if !d.allowed => Verdict::Refuse(d),
        Some(d) if d.remaining < first.remaining => Verdict::Allow(Some(d)),
        _ => Verdict::Allow(Some(first)),
    }
}

async fn hit(limiter: &dyn RateLimiter, key: &str, rule: RateRule) -> Option<RateDecision> {
    if let Some(d) = limiter.hit_now(key, rule) {
        return Some(d);
    }
    match limiter.hit(key, rule).await {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; request let through");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use shared::rate_limit::MemoryRateLimiter;
    use std::time::Duration;

    fn limits() -> RateLimits {
        let rule = |count| RateRule {
            count,
            window: Duration::from_secs(60),
        };
        RateLimits {
            enabled: true,
            auth: rule(1),
            write: rule(2),
            read: rule(3),
        }
    }

    #[test]
    fn requests_are_classified_by_method_and_path() {
        assert_eq!(classify(&Method::GET, "/api/auth/login"), Class::Read);
        assert_eq!(
            classify(&Method::POST, "/api/auth/login"),
            Class::Credentials
        );
        assert_eq!(
            classify(&Method::POST, "/api/auth/register/"),
            Class::Credentials
        );
        assert_eq!(classify(&Method::POST, "/api/auth/refresh"), Class::Write);
        assert_eq!(classify(&Method::DELETE, "/api/products/x"), Class::Write);
        assert_eq!(classify(&Method::HEAD, "/api/products"), Class::Read);
    }

    #[tokio::test]
    async fn the_per_user_write_limit_applies_across_client_addresses() {
        let limiter = MemoryRateLimiter::default();
        let l = limits();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for ip in [a, b] {
            let v = check(&limiter, &l, Class::Write, &ClientKeys::new(ip), Some("u1")).await;
            assert!(matches!(v, Verdict::Allow(Some(_))));
        }
        // A third address, fresh per-IP counter, but the user has used both writes.
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        let v = check(&limiter, &l, Class::Write, &ClientKeys::new(c), Some("u1")).await;
        assert!(matches!(v, Verdict::Refuse(d) if d.limit == 2));
        // Another user from that address is still fine.
        let v = check(&limiter, &l, Class::Write, &ClientKeys::new(c), Some("u2")).await;
        assert!(matches!(v, Verdict::Allow(Some(_))));
    }

    #[tokio::test]
    async fn disabled_limits_count_nothing() {
        let limiter = MemoryRateLimiter::default();
        let mut l = limits();
        l.enabled = false;
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            let v = check(&limiter, &l, Class::Credentials, &ClientKeys::new(ip), None).await;
            assert!(matches!(v, Verdict::Allow(None)));
        }
    }
}
