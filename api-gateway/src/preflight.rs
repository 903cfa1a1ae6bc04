//! The CORS preflight answer the gateway's own loop writes for proxied paths, so that a browser's
//! connection stays on that loop. It is the answer tower-http's `CorsLayer` (`shared::http::cors`)
//! gives on hyper's path, header for header, from the same constants (a test compares the two).

use crate::headers::Cors;
use crate::lane::{now_http_date, push_header, SECURITY_BLOCK};
use shared::http::{CORS_MAX_AGE, CORS_METHODS};
use std::sync::LazyLock;

/// `access-control-allow-methods` and `access-control-max-age`, made once.
static FIXED: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let methods: Vec<&str> = CORS_METHODS.iter().map(|m| m.as_str()).collect();
    let mut out = Vec::new();
    push_header(
        &mut out,
        b"vary",
        b"origin, access-control-request-method, access-control-request-headers",
    );
    push_header(
        &mut out,
        b"access-control-allow-methods",
        methods.join(",").as_bytes(),
    );
    out
});

/// Writes the whole answer to a preflight: `origin` and `request_headers` (mirrored) are the
/// request's `Origin` and `Access-Control-Request-Headers`.
pub fn write(
    out: &mut Vec<u8>,
    cors: &Cors,
    origin: Option<&[u8]>,
    request_headers: Option<&[u8]>,
    request_id: &[u8],
    close: bool,
) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    out.extend_from_slice(&FIXED);
    if let Some(asked) = request_headers {
        push_header(out, b"access-control-allow-headers", asked);
    }
    push_header(
        out,
        b"access-control-max-age",
        CORS_MAX_AGE.as_secs().to_string().as_bytes(),
    );
    cors.write_origin(out, origin);
    push_header(out, b"x-request-id", request_id);
    out.extend_from_slice(&SECURITY_BLOCK);
    out.extend_from_slice(b"content-length: 0\r\n");
    push_header(out, b"date", now_http_date().as_bytes());
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}
