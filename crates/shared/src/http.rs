//! The standard layers every service wears, in one fixed order: request id → trace → timeout →
//! catch-panic, `Connection: close` after a request body left unread, plus helmet-equivalent
//! security headers, CORS from `ALLOWED_ORIGINS`, gzip/br for
//! bodies ≥ 1 KiB, and JSON answers for unknown routes and wrong methods.

use crate::error::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::{Duration, Instant};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Options of the standard layers.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Service name, logged on every line.
    pub service: &'static str,
    /// `ALLOWED_ORIGINS`; empty means any origin (`*`).
    pub allowed_origins: Vec<String>,
    /// Longest a handler may take before a 504.
    pub request_timeout: Duration,
}

/// Helmet 7's default headers.
pub const SECURITY_HEADERS: [(&str, &str); 12] = [
    ("content-security-policy", "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("origin-agent-cluster", "?1"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=15552000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-dns-prefetch-control", "off"),
    ("x-download-options", "noopen"),
    ("x-frame-options", "SAMEORIGIN"),
    ("x-permitted-cross-domain-policies", "none"),
    ("x-xss-protection", "0"),
];

/// [`SECURITY_HEADERS`] as header names and values, built once.
static SECURITY_HEADER_MAP: std::sync::LazyLock<Vec<(HeaderName, HeaderValue)>> =
    std::sync::LazyLock::new(|| {
        SECURITY_HEADERS
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    });

/// Adds the security headers a response does not already carry.
pub fn add_security_headers(headers: &mut axum::http::HeaderMap) {
    headers.reserve(SECURITY_HEADERS.len());
    for (name, value) in SECURITY_HEADER_MAP.iter() {
        headers.entry(name).or_insert_with(|| value.clone());
    }
}

/// Whether a client's request id is kept: 1–128 visible ASCII characters.
pub fn is_sane_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 128 && id.iter().all(u8::is_ascii_graphic)
}

/// A usable incoming request id, or a new one.
pub fn request_id_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .filter(|v| is_sane_request_id(v.as_bytes()))
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string)
}

/// The routes probes call, every second or so (the gateway's health view, orchestrators, Prometheus):
/// their answers are logged at debug, unless refused or failed (4xx, 5xx), so that they do not bury
/// the traffic.
const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];

/// The outer middleware: the request id (kept or made, and echoed), the request span and its
/// response log line, and the security headers on every answer.
async fn request_context(service: &'static str, mut req: Request, next: Next) -> Response {
    let id = request_id_of(req.headers());
    let id_value = HeaderValue::from_str(&id).ok();
    if let Some(v) = &id_value {
        req.headers_mut().insert(REQUEST_ID, v.clone());
    }
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |p| p.as_str());
    let method = req.method().clone();
    // The context of what the handler logs; the response line below carries the same fields
    // itself, at the top level of a JSON line (the gateway's has the same layout).
    let span = tracing::info_span!(
        "request",
        service,
        http.method = %method,
        http.route = route,
        request_id = %id,
        user.id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut res = {
        use tracing::Instrument;
        crate::telemetry::with_request_id(id.clone(), next.run(req))
            .instrument(span)
            .await
    };
    let status = res.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(service, http.method = %method, http.route = route, request_id = %id, status, latency_ms, "response");
    } else if status < 400 && PROBES.contains(&route) {
        tracing::debug!(service, http.method = %method, http.route = route, request_id = %id, status, latency_ms, "response");
    } else {
        tracing::info!(service, http.method = %method, http.route = route, request_id = %id, status, latency_ms, "response");
    }
    let headers = res.headers_mut();
    if let Some(v) = id_value {
        headers.insert(REQUEST_ID, v);
    }
    add_security_headers(headers);
    res
}

/// The inner middleware: the handler's time limit (504 past it), and `Connection: close` on an
/// answer given before the request body was read to its end (see [`crate::unread`]).
async fn bounded(limit: Duration, req: Request, next: Next) -> Response {
    let (req, watch) = crate::unread::watch(req);
    let res = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "request_timeout",
            "Request timed out",
        )
        .into_response(),
    };
    watch.mark(res)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

async fn not_found() -> ApiError {
    ApiError::route_not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "Method not allowed",
    )
}

/// The methods a CORS preflight allows, in the order its answer lists them.
pub const CORS_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::PUT,
    Method::PATCH,
    Method::POST,
    Method::DELETE,
];

/// How long a browser may cache a preflight's answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// CORS from `ALLOWED_ORIGINS` (empty: any origin).
pub fn cors(allowed_origins: &[String]) -> CorsLayer {
    let origin = if allowed_origins.is_empty() || allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(CORS_METHODS)
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            REQUEST_ID,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            header::RETRY_AFTER,
        ])
        .max_age(CORS_MAX_AGE)
}

/// Wraps a router (a service's, or the gateway's own routes) with the JSON fallbacks and every
/// standard layer, counting every answer in `metrics` by its matched route
/// ([`crate::metrics::track`]): 404 and 405 answers (`unmatched` when no route matched), timeouts
/// and panics included. CORS preflights, answered before any route, are not counted.
pub fn standard_layers(
    router: Router,
    opts: &HttpOptions,
    metrics: crate::metrics::Metrics,
) -> Router {
    let service = opts.service;
    let limit = opts.request_timeout;
    let compress_when = SizeAbove::new(crate::encoded::COMPRESS_FROM)
        .and(NotForContentType::GRPC)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::SSE);
    // Layers run outside-in in reverse order of these calls; axum wraps each route and the
    // fallbacks in them, so every one of them sees the matched route.
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(move |req, next| {
            bounded(limit, req, next)
        }))
        .layer(middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .compress_when(compress_when),
        )
        .layer(cors(&opts.allowed_origins))
        .layer(middleware::from_fn(move |req, next| {
            request_context(service, req, next)
        }))
}

/// Test routes that misbehave: `GET /panic` panics, `GET /slow` answers after 5 s (past any test
/// timeout).
#[cfg(test)]
pub(crate) fn misbehaving_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    use axum::routing::get;
    Router::new()
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("boom");
                }
                "unreachable"
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
}

#[cfg(test)]
mod tests;
