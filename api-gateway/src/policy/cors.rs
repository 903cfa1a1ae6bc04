//! CORS from `ALLOWED_ORIGINS` (empty or `*`: any origin), the same rules as the services' shared
//! CORS layer (`shared::http::cors`, tower-http): the answer headers of proxied answers (an
//! upstream's own CORS headers are replaced), and the preflight answer the gateway gives itself for
//! proxied paths (no upstream call), built from the same constants (a test compares the two).

use crate::codec::write::{header, http_date, status_line};
use hyper::StatusCode;
use shared::http::{CORS_MAX_AGE, CORS_METHODS};
use std::sync::LazyLock;

/// Headers a browser may read from an answer.
pub const EXPOSED: &str =
    "x-request-id,ratelimit-limit,ratelimit-remaining,ratelimit-reset,retry-after";

/// The fixed lines of a preflight answer before the asked headers: `vary` and the methods.
static PREFLIGHT_VARY_METHODS: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let methods: Vec<&str> = CORS_METHODS.iter().map(hyper::Method::as_str).collect();
    let mut out = Vec::new();
    header(
        &mut out,
        b"vary",
        b"origin, access-control-request-method, access-control-request-headers",
    );
    header(
        &mut out,
        b"access-control-allow-methods",
        methods.join(",").as_bytes(),
    );
    out
});

/// `access-control-max-age`, in seconds.
static PREFLIGHT_MAX_AGE: LazyLock<String> = LazyLock::new(|| CORS_MAX_AGE.as_secs().to_string());

/// The CORS policy.
#[derive(Debug, Clone)]
pub enum Cors {
    /// Any origin.
    Any,
    /// Only these origins.
    List(Vec<Vec<u8>>),
}

impl Cors {
    /// From `ALLOWED_ORIGINS`.
    pub fn new(allowed: &[String]) -> Self {
        if allowed.is_empty() || allowed.iter().any(|o| o == "*") {
            Cors::Any
        } else {
            Cors::List(allowed.iter().map(|o| o.as_bytes().to_vec()).collect())
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    fn allow<'a>(&'a self, origin: Option<&'a [u8]>) -> Option<&'a [u8]> {
        match (self, origin) {
            (Cors::Any, _) => Some(b"*"),
            (Cors::List(list), Some(origin)) if list.iter().any(|o| o == origin) => Some(origin),
            (Cors::List(_), _) => None,
        }
    }

    /// Writes the CORS headers of an answer to a request from `origin` (`has_vary`: the answer
    /// carries a `Vary` already).
    pub fn write(&self, out: &mut Vec<u8>, origin: Option<&[u8]>, has_vary: bool) {
        if let Some(allowed) = self.allow(origin) {
            header(out, b"access-control-allow-origin", allowed);
            if matches!(self, Cors::List(_)) && !has_vary {
                header(out, b"vary", b"origin");
            }
        }
        header(out, b"access-control-expose-headers", EXPOSED.as_bytes());
    }

    /// Writes the whole answer to a preflight from `origin` asking for `request_headers`, with the
    /// security headers and the request id (`close`: the connection ends after it).
    pub fn preflight(
        &self,
        out: &mut Vec<u8>,
        origin: Option<&[u8]>,
        request_headers: Option<&[u8]>,
        request_id: &[u8],
        close: bool,
    ) {
        out.clear();
        status_line(out, StatusCode::OK);
        out.extend_from_slice(&PREFLIGHT_VARY_METHODS);
        if let Some(asked) = request_headers {
            header(out, b"access-control-allow-headers", asked);
        }
        header(out, b"access-control-max-age", PREFLIGHT_MAX_AGE.as_bytes());
        if let Some(allowed) = self.allow(origin) {
            header(out, b"access-control-allow-origin", allowed);
        }
        header(out, b"x-request-id", request_id);
        out.extend_from_slice(&super::down::SECURITY_BLOCK);
        header(out, b"content-length", b"0");
        header(out, b"date", http_date().as_bytes());
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn text(out: &[u8]) -> String {
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn listed_origins_are_echoed_and_others_get_no_allow_origin() {
        let cors = Cors::new(&["https://shop.example".to_string()]);
        let mut out = Vec::new();
        cors.write(&mut out, Some(b"https://evil.example"), false);
        assert!(!text(&out).contains("allow-origin"));
        out.clear();
        cors.write(&mut out, Some(b"https://shop.example"), false);
        assert!(text(&out)
            .starts_with("access-control-allow-origin: https://shop.example\r\nvary: origin\r\n"));
        out.clear();
        Cors::new(&[]).write(&mut out, None, false);
        assert!(text(&out).starts_with("access-control-allow-origin: *\r\naccess-control-expose"));
    }

    #[test]
    fn a_preflight_mirrors_the_asked_headers_and_allows_listed_origins_only() {
        let cors = Cors::new(&["https://shop.example".to_string()]);
        let mut out = Vec::new();
        cors.preflight(
            &mut out,
            Some(b"https://shop.example"),
            Some(b"content-type"),
            b"r1",
            false,
        );
        let t = text(&out);
        assert!(t.starts_with("HTTP/1.1 200 OK\r\n"), "{t}");
        assert!(
            t.contains("access-control-allow-headers: content-type\r\n"),
            "{t}"
        );
        assert!(
            t.contains("access-control-allow-origin: https://shop.example\r\n"),
            "{t}"
        );
        assert!(t.contains("access-control-allow-methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n"));
        assert!(t.contains("x-frame-options: SAMEORIGIN\r\n") && t.ends_with("\r\n\r\n"));
        out.clear();
        cors.preflight(&mut out, Some(b"https://evil.example"), None, b"r2", true);
        let t = text(&out);
        assert!(
            !t.contains("allow-origin") && !t.contains("allow-headers"),
            "{t}"
        );
        assert!(t.contains("connection: close\r\n"));
    }
}
