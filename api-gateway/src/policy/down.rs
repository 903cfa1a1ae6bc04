//! Answer heads to the client: an upstream's answer relayed (its headers minus hop-by-hop ones,
//! those its `Connection` names and those the gateway answers for itself; its security headers win
//! and the gateway adds the rest), and the gateway's own JSON error envelope. Both carry the request
//! id, CORS, `RateLimit-*` when counted, a `Date`, and `Connection` as the client connection needs.

use super::{connection_named, is_hop_by_hop, one_of, Cors};
use crate::codec::head::headers;
use crate::codec::write::{self, header, http_date, status_line, AnswerFraming};
use crate::codec::Span;
use crate::upstream::Facts;
use hyper::StatusCode;
use shared::rate_limit::{RateDecision, RuleHeaders};
use shared::ApiError;

/// The security header lines, all of them, as one block.
pub static SECURITY_BLOCK: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let mut block = Vec::new();
    for (name, value) in shared::http::SECURITY_HEADERS {
        header(&mut block, name.as_bytes(), value.as_bytes());
    }
    block
});

/// What the gateway adds to every answer of one request.
pub struct Context<'a> {
    /// The request id.
    pub request_id: &'a [u8],
    /// The request's `Origin`.
    pub origin: Option<&'a [u8]>,
    /// The CORS policy.
    pub cors: &'a Cors,
    /// The rate-limit rule and decision, when the request was counted.
    pub rate: Option<(&'a RuleHeaders, &'a RateDecision)>,
    /// The connection ends after this answer.
    pub close: bool,
    /// The client spoke HTTP/1.0 and keeps the connection (it must be told it stays open).
    pub keep_alive_10: bool,
}

/// Answer headers never relayed: hop-by-hop ones (the framing is written anew), and those the
/// gateway answers for itself.
fn dropped_on_the_way_down(name: &[u8], coded: bool, limited: bool) -> bool {
    is_hop_by_hop(name)
        || one_of(
            name,
            &[
                "x-request-id",
                "access-control-allow-origin",
                "access-control-expose-headers",
            ],
        )
        || (coded && name.eq_ignore_ascii_case(b"content-length"))
        || (limited && name.len() > 10 && name[..10].eq_ignore_ascii_case(b"ratelimit-"))
}

/// Writes the head of an upstream answer: `status`, the upstream head `raw` with its header
/// positions `spans` and its framing `facts` (with a transfer coding its `Content-Length` is
/// dropped; the headers its `Connection` names are too), and the body framing the client
/// connection gets.
pub fn answer_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    raw: &[u8],
    spans: &[Span],
    facts: &Facts,
    framing: AnswerFraming,
    ctx: &Context<'_>,
) {
    out.clear();
    status_line(out, status);
    let coded = facts.chunked || facts.other_coding;
    let named = if facts.connection_names {
        connection_named(headers(raw, spans))
    } else {
        Vec::new()
    };
    let mut present = 0u16; // security headers the upstream set itself
    let (mut has_vary, mut has_date) = (false, false);
    for (name, value) in headers(raw, spans) {
        if dropped_on_the_way_down(name, coded, ctx.rate.is_some())
            || named.iter().any(|n| n.eq_ignore_ascii_case(name))
        {
            continue;
        }
        // (Every security header name is at least 15 bytes long.)
        if name.len() >= 15 {
            for (i, (security, _)) in shared::http::SECURITY_HEADERS.iter().enumerate() {
                if name.eq_ignore_ascii_case(security.as_bytes()) {
                    present |= 1 << i;
                }
            }
        }
        has_vary |= name.eq_ignore_ascii_case(b"vary");
        has_date |= name.eq_ignore_ascii_case(b"date");
        header(out, name, value);
    }
    write::framing(out, framing);
    if !has_date {
        // A forwarded answer carries a Date (RFC 9110 §6.6.1); the services always send one.
        header(out, b"date", http_date().as_bytes());
    }
    if present == 0 {
        out.extend_from_slice(&SECURITY_BLOCK);
    } else {
        for (i, (name, value)) in shared::http::SECURITY_HEADERS.iter().enumerate() {
            if present & (1 << i) == 0 {
                header(out, name.as_bytes(), value.as_bytes());
            }
        }
    }
    finish(out, ctx, has_vary);
}

/// The 400 for a request body that is malformed or broke off (chunked framing, a client gone).
pub fn invalid_body() -> ApiError {
    ApiError::bad_request(
        "invalid_body",
        "The request body is malformed or incomplete",
    )
}

/// Writes the whole JSON error answer for `e` (no body for `bodiless`, a HEAD request).
pub fn error_answer(out: &mut Vec<u8>, e: &ApiError, bodiless: bool, ctx: &Context<'_>) {
    let body = serde_json::to_vec(&e.body()).unwrap_or_default();
    out.clear();
    status_line(out, e.status);
    header(out, b"date", http_date().as_bytes());
    header(out, b"content-type", b"application/json");
    write::framing(out, AnswerFraming::Length(body.len() as u64));
    for (name, value) in &e.headers {
        header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(&SECURITY_BLOCK);
    finish(out, ctx, false);
    if !bodiless {
        out.extend_from_slice(&body);
    }
}

/// Writes the head of an answer of the gateway's own routes (axum's, whose layers already set the
/// security headers, the request id and CORS): its headers minus hop-by-hop ones (and its
/// `Content-Length` unless `framing` keeps it as is), then the framing and `Connection` lines.
pub fn local_head(
    out: &mut Vec<u8>,
    parts: &hyper::http::response::Parts,
    framing: AnswerFraming,
    close: bool,
    keep_alive_10: bool,
) {
    out.clear();
    status_line(out, parts.status);
    let mut has_date = false;
    for (name, value) in &parts.headers {
        let name = name.as_str().as_bytes();
        if is_hop_by_hop(name) || (name == b"content-length" && framing != AnswerFraming::AsIs) {
            continue;
        }
        has_date |= name == b"date";
        header(out, name, value.as_bytes());
    }
    write::framing(out, framing);
    if !has_date {
        header(out, b"date", http_date().as_bytes());
    }
    connection(out, close, keep_alive_10);
    out.extend_from_slice(b"\r\n");
}

/// The `Connection` line a client needs: `close` when the connection ends after this answer,
/// `keep-alive` for an HTTP/1.0 client whose connection stays open.
fn connection(out: &mut Vec<u8>, close: bool, keep_alive_10: bool) {
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if keep_alive_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
}

/// The request id, CORS, `RateLimit-*` and `Connection` lines, and the end of the head.
fn finish(out: &mut Vec<u8>, ctx: &Context<'_>, has_vary: bool) {
    header(out, b"x-request-id", ctx.request_id);
    ctx.cors.write(out, ctx.origin, has_vary);
    if let Some((rule, d)) = ctx.rate {
        header(out, b"ratelimit-policy", rule.policy().as_bytes());
        header(out, b"ratelimit-limit", rule.limit().as_bytes());
        out.extend_from_slice(b"ratelimit-remaining: ");
        write::decimal(out, u64::from(d.remaining));
        out.extend_from_slice(b"\r\nratelimit-reset: ");
        write::decimal(out, shared::rate_limit::secs_ceil(d.reset_after));
        out.extend_from_slice(b"\r\n");
    }
    connection(out, ctx.close, ctx.keep_alive_10);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ctx(cors: &Cors) -> Context<'_> {
        Context {
            request_id: b"rid",
            origin: None,
            cors,
            rate: None,
            close: false,
            keep_alive_10: false,
        }
    }

    #[test]
    fn the_upstreams_security_headers_win_and_hop_by_hop_ones_stay_behind() {
        let raw = b"HTTP/1.1 200 OK\r\nX-Frame-Options: DENY\r\nconnection: x-secret\r\nx-secret: 1\r\n\
                    transfer-encoding: chunked\r\ncontent-length: 9\r\nx-request-id: theirs\r\nkept: yes\r\n\r\n";
        let mut spans = Vec::new();
        let mut slots = [httparse::EMPTY_HEADER; 16];
        let mut res = httparse::Response::new(&mut slots);
        res.parse(raw).unwrap();
        for h in res.headers.iter() {
            let n = (h.name.as_ptr() as usize - raw.as_ptr() as usize) as u32;
            let v = (h.value.as_ptr() as usize - raw.as_ptr() as usize) as u32;
            spans.push((n, n + h.name.len() as u32, v, v + h.value.len() as u32));
        }
        let cors = Cors::new(&[]);
        let mut out = Vec::new();
        let facts = Facts {
            chunked: true,
            connection_names: true,
            ..Facts::default()
        };
        answer_head(
            &mut out,
            StatusCode::OK,
            raw,
            &spans,
            &facts,
            AnswerFraming::Chunked,
            &ctx(&cors),
        );
        let t = String::from_utf8(out).unwrap();
        assert!(t.starts_with("HTTP/1.1 200 OK\r\nX-Frame-Options: DENY\r\nkept: yes\r\ntransfer-encoding: chunked\r\n"), "{t}");
        assert_eq!(
            t.matches("x-frame-options").count() + t.matches("X-Frame-Options").count(),
            1
        );
        assert!(!t.contains("x-secret") && !t.contains("theirs") && !t.contains("content-length"));
        assert!(
            t.contains("x-request-id: rid\r\n") && t.contains("x-content-type-options: nosniff")
        );
    }

    #[test]
    fn errors_are_json_with_their_length_and_head_answers_have_no_body() {
        let cors = Cors::new(&[]);
        let e = ApiError::unavailable("Product service unavailable");
        let mut out = Vec::new();
        let mut c = ctx(&cors);
        c.close = true;
        error_answer(&mut out, &e, false, &c);
        let t = String::from_utf8(out.clone()).unwrap();
        let (head, body) = t.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.ends_with("connection: close"));
        assert!(body.contains("Product service unavailable"));
        error_answer(&mut out, &e, true, &ctx(&cors));
        assert!(out.ends_with(b"\r\n\r\n"));
    }
}
