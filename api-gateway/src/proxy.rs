//! What the proxy decides for a request: its route (one per proxied prefix, each with its pool and
//! circuit breaker), the bearer pre-check, the rate limits and the breaker's leave, what an
//! upstream failure becomes for the client (503 with `Retry-After`, 502, 504, 400 for a broken
//! client body), and the metrics and log line of every answer.

use crate::config::{Config, RateLimits, Upstream};
use crate::labels::RouteLabels;
use crate::limits::{self, ClientKeys, Verdict};
use crate::net::{client_ip_from, IpNet};
use crate::policy::{Cors, Peer};
use crate::upstream::{Breaker, Pool, PoolError, Ticket};
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use shared::platform::Common;
use shared::rate_limit::{RateDecision, RuleHeaders};
use shared::ApiError;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// One proxied prefix and where it goes.
pub struct Route {
    prefix: &'static str,
    name: &'static str,
    pub(crate) pool: Arc<Pool>,
    /// `host:port`, sent upstream as `Host`.
    pub(crate) host: Vec<u8>,
    /// Fails requests fast while the upstream is unreachable.
    pub(crate) breaker: Arc<Breaker>,
    /// Metrics and log labels of the paths under the prefix.
    labels: RouteLabels,
}

impl Route {
    fn new(
        prefix: &'static str,
        up: &Upstream,
        connect_timeout: Duration,
        config: &Config,
        labels: RouteLabels,
    ) -> Self {
        Self {
            prefix,
            name: up.name,
            pool: Pool::new(up.authority.as_str(), connect_timeout),
            host: up.authority.as_str().as_bytes().to_vec(),
            // Named like the upstream in `/health` (auth, products, orders, payments).
            breaker: Breaker::new(prefix.trim_start_matches("/api/"), config.breaker),
            labels,
        }
    }

    /// The 503 for this upstream, telling the client to come back after `wait` (whole seconds,
    /// at least one).
    fn unavailable(&self, wait: Duration) -> ApiError {
        let secs = shared::rate_limit::secs_ceil(wait);
        ApiError::unavailable(format!("{} service unavailable", self.name))
            .with_header(hyper::header::RETRY_AFTER, HeaderValue::from(secs))
    }

    fn matches(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// Everything the proxy path needs, shared by all connections.
pub struct Proxy {
    pub(crate) common: Common,
    metrics: shared::metrics::Metrics,
    routes: [Route; 4],
    pub(crate) timeout: Duration,
    pub(crate) limits: RateLimits,
    /// `RateLimit-*` header values of the three rules, made once.
    rule_headers: [RuleHeaders; 3],
    pub(crate) trusted: Vec<IpNet>,
    pub(crate) cors: Cors,
}

/// Paths whose bearer token is not pre-checked: a client refreshing an expired session may still
/// send its old access token, and these endpoints do not use it.
pub(crate) fn is_public_auth(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/api/auth/login" | "/api/auth/register" | "/api/auth/refresh"
    )
}

impl Proxy {
    /// What the proxy needs to know of a client connection from `ip`.
    pub fn peer(&self, ip: std::net::IpAddr) -> Peer {
        Peer::new(ip, &self.trusted)
    }

    /// Builds the proxy and its upstream connection pool.
    pub fn new(config: &Config, common: Common, metrics: shared::metrics::Metrics) -> Self {
        let connect_timeout = config.upstream_timeout.min(Duration::from_secs(5));
        let templates = crate::labels::api_templates();
        let route = |prefix, upstream| {
            let labels = RouteLabels::new(prefix, templates.iter().map(String::as_str));
            Route::new(prefix, upstream, connect_timeout, config, labels)
        };
        Self {
            common,
            metrics,
            routes: [
                route("/api/auth", &config.auth),
                route("/api/products", &config.products),
                route("/api/orders", &config.orders),
                route("/api/payments", &config.payments),
            ],
            timeout: config.upstream_timeout,
            limits: config.rate_limits,
            rule_headers: [
                config.rate_limits.auth,
                config.rate_limits.write,
                config.rate_limits.read,
            ]
            .map(RuleHeaders::new),
            trusted: config.trusted_proxies.clone(),
            cors: Cors::new(&config.common.allowed_origins),
        }
    }

    /// The route of a request to `path`, or `None` for the gateway's own routes.
    pub(crate) fn proxied_route(&self, method: &Method, path: &str) -> Option<&Route> {
        if !path.starts_with("/api/") || method == Method::CONNECT {
            return None;
        }
        self.routes.iter().find(|r| r.matches(path))
    }

    /// The bearer pre-check, the rate limits and the route's circuit breaker for a request to
    /// `path`: the rate decision (it becomes the `RateLimit-*` headers of the answer) and the
    /// breaker's leave to send, settled by [`Proxy::upstream_outcome`].
    pub(crate) async fn admit<'a, 'r>(
        &self,
        route: &'r Route,
        peer: &Peer,
        method: &Method,
        path: &str,
        authorization: Option<&str>,
        forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    ) -> Result<(Option<RateDecision>, Ticket<'r>), ApiError> {
        let user = match authorization.and_then(shared::auth::bearer_from_value) {
            Some(token) if !is_public_auth(path) => {
                Some(self.common.authenticator.authenticate(token).await?)
            }
            _ => None,
        };
        let forwarded_client;
        let keys = if peer.trusted {
            let ip = client_ip_from(peer.ip, forwarded_for, &self.trusted);
            forwarded_client = ClientKeys::new(ip);
            &forwarded_client
        } else {
            &peer.keys
        };
        let class = limits::classify(method, path);
        let limiter = self.common.backends.limiter.as_ref();
        let user_id = user.as_ref().map(|c| c.user_id.as_str());
        let decision = match limits::check(limiter, &self.limits, class, keys, user_id).await {
            Verdict::Allow(d) => d,
            Verdict::Refuse(d) => return Err(shared::rate_limit::too_many_requests(&d)),
        };
        match route.breaker.admit() {
            Ok(ticket) => Ok((decision, ticket)),
            Err(wait) => {
                self.metrics.incr(
                    "gateway_breaker_rejections_total",
                    "Requests answered 503 at once because the upstream's circuit was open.",
                    &[("upstream", route.breaker.name())],
                );
                Err(route.unavailable(wait))
            }
        }
    }

    /// An upstream call's result (`None`: timed out), its failures as the JSON errors clients
    /// get (503 unreachable, with `Retry-After`; 502 failed; 504 timed out; 400 when the client's
    /// own body broke off or was malformed). A refused connection
    /// and a timeout count towards the route's breaker; anything the upstream answered, even a
    /// broken answer, shows it reachable.
    pub(crate) fn upstream_outcome<T>(
        &self,
        route: &Route,
        ticket: Ticket<'_>,
        sent: Option<Result<T, PoolError>>,
    ) -> Result<T, ApiError> {
        match sent {
            Some(Ok(answer)) => {
                ticket.answered();
                Ok(answer)
            }
            Some(Err(e @ PoolError::Connect(_))) => {
                tracing::warn!(upstream = route.name, error = %e, "upstream unreachable");
                ticket.failed();
                Err(route.unavailable(route.breaker.retry_after()))
            }
            Some(Err(PoolError::ClientBody(e))) => {
                // Says nothing of the upstream: the breaker is left as it is.
                drop(ticket);
                tracing::info!(upstream = route.name, error = %e, "request body broken off or malformed");
                Err(crate::policy::down::invalid_body())
            }
            Some(Err(e)) => {
                ticket.answered();
                tracing::warn!(upstream = route.name, error = %e, "upstream request failed");
                Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    format!("{} service failed", route.name),
                ))
            }
            None => {
                ticket.failed();
                Err(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    format!("{} service timed out", route.name),
                ))
            }
        }
    }

    /// The routes' circuit breakers (auth, products, orders, payments), for `/health` and
    /// `/metrics`.
    pub fn breakers(&self) -> [Arc<Breaker>; 4] {
        self.routes.each_ref().map(|r| r.breaker.clone())
    }

    /// The `RateLimit-*` values of the rule `d` was decided under (prebuilt for the configured
    /// rules).
    pub(crate) fn rule_headers(&self, d: &RateDecision) -> Cow<'_, RuleHeaders> {
        match self.rule_headers.iter().find(|h| h.matches(d)) {
            Some(rule) => Cow::Borrowed(rule),
            None => Cow::Owned(RuleHeaders::of(d)),
        }
    }

    /// Counts and logs a request refused for its head (before any route was known).
    pub(crate) fn record_refused(&self, status: u16, code: &str, request_id: &[u8]) {
        self.metrics
            .record_request("OTHER", "unmatched", status, 0.0);
        tracing::info!(
            service = crate::SERVICE,
            status,
            code,
            request_id = std::str::from_utf8(request_id).unwrap_or(""),
            "request head refused"
        );
    }

    /// Counts and logs one answered request to `path` on `route`, labelled with the path's
    /// template (its route's prefix when none matches).
    pub(crate) fn record(
        &self,
        method: &str,
        route: &Route,
        path: &str,
        status: u16,
        elapsed: f64,
        request_id: &[u8],
    ) {
        let label = route.labels.label(path).unwrap_or(route.prefix);
        self.metrics.record_request(method, label, status, elapsed);
        tracing::info!(
            service = crate::SERVICE,
            http.method = method,
            http.route = label,
            status,
            latency_ms = elapsed * 1000.0,
            request_id = std::str::from_utf8(request_id).unwrap_or(""),
            "response"
        );
    }
}
