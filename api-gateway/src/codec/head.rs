//! Request heads: parsed in place with `httparse`, then held to the strict reading a proxy needs
//! (RFC 9112): one framing only (`Content-Length` digits, or `Transfer-Encoding` ending in a single
//! `chunked`), at most one `Host` (exactly one over HTTP/1.1), a request target made only of the
//! bytes RFC 3986 allows (so every parser behind the gateway reads it the same way). Whatever is
//! refused is a [`HeadError`] with the status to answer; the connection is closed after it.

use super::framing::{digits, transfer_coding, BodyFraming, ConnectionOptions};
use super::target::origin_form;
use hyper::{Method, StatusCode};

/// Largest request head accepted (431 beyond).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header lines accepted (431 beyond).
pub const MAX_HEADERS: usize = 100;

/// Where a header lies in its head's bytes: name start/end, value start/end.
pub type Span = (u32, u32, u32, u32);

/// A request head that passed every check.
#[derive(Debug)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The head's length in bytes (the body starts after it).
    pub len: usize,
    /// Where the request target lies; absolute-form targets are narrowed to their path and query.
    pub target: (usize, usize),
    /// Where the path ends inside the target (the query, if any, follows).
    pub path_end: usize,
    /// HTTP minor version (0 or 1).
    pub minor: u8,
    /// Where each header lies.
    pub spans: Vec<Span>,
    /// The body's framing.
    pub body: BodyFraming,
    /// Whether the client keeps the connection open after this request (`false` too when the
    /// head carried both `Transfer-Encoding` and `Content-Length`: read as chunked, then closed).
    pub keep_alive: bool,
    /// `Expect: 100-continue` (HTTP/1.1 only).
    pub expect_continue: bool,
    /// A `Content-Length` header was present (even `0`).
    pub had_length: bool,
    /// A `Connection` header names other headers (hop-by-hop too, so not to be forwarded).
    pub connection_names: bool,
}

impl RequestHead {
    /// The request target (path and query).
    pub fn target<'a>(&self, head: &'a [u8]) -> &'a [u8] {
        &head[self.target.0..self.target.1]
    }

    /// The path (the target without its query).
    pub fn path<'a>(&self, head: &'a [u8]) -> &'a str {
        // ASCII only: checked when parsed.
        std::str::from_utf8(&head[self.target.0..self.path_end]).unwrap_or("/")
    }

    /// The value of the first header called `name` (any case).
    pub fn header<'a>(&'a self, head: &'a [u8], name: &'a str) -> Option<&'a [u8]> {
        self.all(head, name).next()
    }

    /// The values of every header called `name`, in order.
    pub fn all<'a>(
        &'a self,
        head: &'a [u8],
        name: &'a str,
    ) -> impl DoubleEndedIterator<Item = &'a [u8]> + 'a {
        headers(head, &self.spans)
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Whether the request is a CORS preflight.
    pub fn is_preflight(&self, head: &[u8]) -> bool {
        self.method == Method::OPTIONS
            && self.header(head, "access-control-request-method").is_some()
    }
}

/// The `(name, value)` pairs `spans` point at in `head`.
pub fn headers<'a>(
    head: &'a [u8],
    spans: &'a [Span],
) -> impl DoubleEndedIterator<Item = (&'a [u8], &'a [u8])> + 'a {
    spans.iter().map(move |&(ns, ne, vs, ve)| {
        (
            &head[ns as usize..ne as usize],
            &head[vs as usize..ve as usize],
        )
    })
}

/// A refused request head: the status to answer, an error code and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadError {
    /// 400, 417, 431 or 501.
    pub status: StatusCode,
    /// The machine-readable code of the JSON error.
    pub code: &'static str,
    /// A short reason, for the JSON error.
    pub reason: &'static str,
    /// The request was a `HEAD` (its answer has no body).
    pub head: bool,
}

pub(super) const fn bad(reason: &'static str) -> HeadError {
    HeadError {
        status: StatusCode::BAD_REQUEST,
        code: "bad_request",
        reason,
        head: false,
    }
}

pub(super) const TOO_LARGE: HeadError = HeadError {
    status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    code: "headers_too_large",
    reason: "The request head is too large",
    head: false,
};

/// Parses the request head at the front of `buf`; `Ok(None)` when it is not complete yet.
pub fn parse(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => n,
        Ok(httparse::Status::Complete(_)) => return Err(TOO_LARGE),
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            return Err(TOO_LARGE)
        }
        Err(_) => return Err(bad("The request head is malformed")),
    };
    let malformed = bad("The request head is malformed");
    let minor = req.version.ok_or(malformed)?;
    let method = req
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or(malformed)?;
    let is_head = method == Method::HEAD;
    let target = req.path.ok_or(malformed)?;
    let base = buf.as_ptr() as usize;
    let offset = |p: *const u8| p as usize - base;
    let (target, path_end) =
        origin_form(&method, target).map_err(|e| HeadError { head: is_head, ..e })?;
    let t = offset(target.as_ptr());
    let mut head = RequestHead {
        method,
        len,
        target: (t, t + target.len()),
        path_end: t + path_end,
        minor,
        spans: Vec::with_capacity(req.headers.len()),
        body: BodyFraming::None,
        keep_alive: minor == 1,
        expect_continue: false,
        had_length: false,
        connection_names: false,
    };
    let (mut length, mut chunked, mut hosts) = (None::<u64>, false, 0);
    let mut connection = ConnectionOptions::default();
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        let refused = |e: HeadError| HeadError { head: is_head, ..e };
        if is("content-length") {
            let n = digits(h.value).ok_or(refused(bad("Invalid Content-Length")))?;
            if length.is_some_and(|l| l != n) {
                return Err(refused(bad("Conflicting Content-Length headers")));
            }
            length = Some(n);
        } else if is("transfer-encoding") {
            chunked = transfer_coding(h.value, chunked).map_err(refused)?;
        } else if is("host") {
            hosts += 1;
        } else if is("connection") {
            connection.add(h.value);
        } else if is("expect") {
            if !h.value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                return Err(refused(HeadError {
                    status: StatusCode::EXPECTATION_FAILED,
                    code: "expectation_failed",
                    reason: "Only Expect: 100-continue is supported",
                    head: false,
                }));
            }
            head.expect_continue = minor == 1;
        }
        let n = offset(h.name.as_ptr()) as u32;
        let v = offset(h.value.as_ptr()) as u32;
        head.spans
            .push((n, n + name.len() as u32, v, v + h.value.len() as u32));
    }
    if hosts > 1 || (hosts == 0 && minor == 1) {
        return Err(HeadError {
            head: is_head,
            ..bad("A request needs exactly one Host header")
        });
    }
    head.keep_alive = connection.keeps_alive(minor);
    head.connection_names = connection.names_others;
    head.had_length = length.is_some();
    head.body = match (chunked, length) {
        (true, _) if minor == 0 => {
            return Err(HeadError {
                head: is_head,
                ..bad("Transfer-Encoding is not allowed in HTTP/1.0")
            })
        }
        (true, Some(_)) => {
            // Both framings (RFC 9112 §6.1): read as chunked, and the connection closed after.
            head.keep_alive = false;
            BodyFraming::Chunked
        }
        (true, None) => BodyFraming::Chunked,
        (false, Some(0) | None) => BodyFraming::None,
        (false, Some(n)) => BodyFraming::Length(n),
    };
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ok(raw: &str) -> RequestHead {
        parse(raw.as_bytes()).unwrap().unwrap()
    }

    fn refused(raw: &str) -> u16 {
        parse(raw.as_bytes()).unwrap_err().status.as_u16()
    }

    #[test]
    fn a_head_is_parsed_in_place() {
        let raw = "POST /api/x?q=1 HTTP/1.1\r\nHost: shop\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n{}";
        let head = ok(raw);
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.len, raw.len() - 2);
        assert_eq!(head.target(raw.as_bytes()), b"/api/x?q=1");
        assert_eq!(head.path(raw.as_bytes()), "/api/x");
        assert_eq!(head.body, BodyFraming::Length(2));
        assert_eq!(head.header(raw.as_bytes(), "x-a"), Some(&b"1"[..]));
        assert!(head.keep_alive);
        assert!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
        let e =
            ok("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
        assert!(e.expect_continue);
        assert_eq!(
            refused("PUT / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n"),
            417
        );
    }

    #[test]
    fn framing_is_one_and_only_one() {
        let chunked = ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(chunked.body, BodyFraming::Chunked);
        let noop = ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n");
        assert_eq!(noop.body, BodyFraming::Chunked);
        // Both framings: read as chunked, and the connection ends after the answer.
        let both = ok(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert_eq!(both.body, BodyFraming::Chunked);
        assert!(!both.keep_alive);
        for raw in [
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
        ] {
            assert_eq!(refused(raw), 400, "{raw}");
        }
        for raw in [
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
        ] {
            assert_eq!(refused(raw), 501, "{raw}");
        }
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").body,
            BodyFraming::None
        );
        assert!(ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").had_length);
    }

    #[test]
    fn odd_lines_hosts_and_targets_are_refused() {
        for raw in [
            "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(refused(raw), 400, "{raw:?}");
        }
        for target in [
            "/a\"b",
            "/a<b>",
            "/a?q={x}",
            "/a#frag",
            "/a|b",
            "/a[0]",
            "/caf\u{e9}",
            "ftp://x/y",
            "http://x",
            "a/b",
        ] {
            let raw = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            let e = parse(raw.as_bytes()).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (400, "invalid_target"),
                "{target}"
            );
        }
        let e = parse(b"HEAD /a<b> HTTP/1.0\r\n\r\n").unwrap_err();
        assert!(e.head, "the answer to a HEAD has no body");
        // A bare LF ending a head line is read as a line end (RFC 9112 §2.2).
        let lf = ok("GET /a HTTP/1.1\nHost: a\n\n");
        assert_eq!(
            lf.header(b"GET /a HTTP/1.1\nHost: a\n\n", "host"),
            Some(&b"a"[..])
        );
        let abs = "GET http://shop/api/x?y=1 HTTP/1.1\r\nHost: shop\r\n\r\n";
        assert_eq!(ok(abs).target(abs.as_bytes()), b"/api/x?y=1");
        assert_eq!(ok(abs).path(abs.as_bytes()), "/api/x");
        let star = "OPTIONS * HTTP/1.1\r\nHost: shop\r\n\r\n";
        assert_eq!(ok(star).target(star.as_bytes()), b"*");
    }

    #[test]
    fn oversized_heads_are_431() {
        let mut raw = "GET / HTTP/1.1\r\nHost: a\r\n".to_string();
        raw.push_str(&"X-Pad: v\r\n".repeat(MAX_HEADERS));
        raw.push_str("\r\n");
        assert_eq!(refused(&raw), 431);
        let long = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "v".repeat(MAX_HEAD));
        assert_eq!(refused(&long), 431);
        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(20 * 1024)
        );
        assert!(parse(big.as_bytes()).unwrap().is_some());
    }
}
