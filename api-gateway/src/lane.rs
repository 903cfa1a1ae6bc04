//! The gateway's own HTTP/1.1 connection loop for proxied requests. Each request head is parsed
//! in place (`httparse`), the upstream request head is written straight from it, and the answer's
//! head is written back from the upstream's bytes plus a fixed block of the gateway's own headers,
//! with no header maps in between. It answers CORS preflights to proxied paths itself
//! (`preflight.rs`) and refuses request targets with bytes that must be escaped (400). Anything
//! this loop does not handle itself (local routes, HTTP/1.0,
//! `Expect`, `Transfer-Encoding` or `Upgrade` on the request, oversized heads, malformed requests)
//! hands the connection, with the bytes already read, to hyper for the rest of its life.

use crate::breaker::Ticket;
use crate::headers::{
    fresh_request_id, invalid_target, is_hop_by_hop, is_sane_request_id, is_valid_target, Cors,
    Peer,
};
use crate::linger::Linger;
use crate::pool::{Answer, PoolError, RequestBody, Source, Span};
use crate::proxy::{Proxy, Route};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::FutureExt;
use hyper::{Method, StatusCode};
use shared::rate_limit::RateDecision;
use shared::ApiError;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
// tokio's clock: the same as the system's, and paused with it in tests.
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Largest request head handled here (larger ones go to hyper, which answers 431).
const MAX_HEAD: usize = 16 * 1024;
/// Most header lines handled here.
const MAX_HEADERS: usize = 64;

/// What the loop made of the bytes at the front of the buffer.
enum Scan<'p> {
    /// A complete request this loop proxies itself.
    Proxied(Request<'p>),
    /// Not complete yet.
    Partial,
    /// A CORS preflight to a proxied path, answered by the gateway itself.
    Preflight(Request<'p>),
    /// Something for hyper.
    Other,
    /// A request whose target has bytes that must be escaped: answered 400, and the connection
    /// closed (what follows its head is not read). `head`: the request was a HEAD.
    BadTarget { head: bool },
}

/// A parsed request head: positions in the head's bytes, and what the proxy needs of it.
struct Request<'p> {
    method: Method,
    route: &'p Route,
    head_len: usize,
    /// Request target (path and query).
    target: (usize, usize),
    spans: Vec<Span>,
    content_length: u64,
    /// The client asked to close after this request.
    close: bool,
}

impl Request<'_> {
    fn path<'a>(&self, head: &'a [u8]) -> &'a str {
        let target = std::str::from_utf8(&head[self.target.0..self.target.1]).unwrap_or("/");
        target.split('?').next().unwrap_or(target)
    }

    /// The client's request id when it is sane, else a fresh one.
    fn request_id(&self, head: &Bytes) -> Bytes {
        match self.header(head, "x-request-id") {
            Some(id) if is_sane_request_id(id) => head.slice_ref(id),
            _ => Bytes::copy_from_slice(fresh_request_id().as_bytes()),
        }
    }

    /// The value of the first header called `name` (lowercase).
    fn header<'a>(&'a self, head: &'a [u8], name: &'a str) -> Option<&'a [u8]> {
        self.all(head, name).next()
    }

    /// The values of every header called `name`, in order.
    fn all<'a>(
        &'a self,
        head: &'a [u8],
        name: &'a str,
    ) -> impl DoubleEndedIterator<Item = &'a [u8]> + 'a {
        self.spans
            .iter()
            .filter(move |&&(ns, ne, _, _)| {
                head[ns as usize..ne as usize].eq_ignore_ascii_case(name.as_bytes())
            })
            .map(move |&(_, _, vs, ve)| &head[vs as usize..ve as usize])
    }
}

/// Parses the request head at the front of `buf` and decides who serves it.
fn scan<'p>(proxy: &'p Proxy, buf: &[u8]) -> Scan<'p> {
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut slots) {
        Ok(httparse::Status::Complete(n)) if n <= MAX_HEAD => n,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Scan::Partial,
        _ => return Scan::Other,
    };
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Scan::Other;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Scan::Other;
    };
    if !target.starts_with('/') {
        return Scan::Other; // absolute-form targets are hyper's
    }
    // Before any hand-over: hyper would refuse some of these with an empty 400 of its own.
    if !is_valid_target(target.as_bytes()) {
        return Scan::BadTarget {
            head: method == Method::HEAD,
        };
    }
    if req.version != Some(1) {
        return Scan::Other;
    }
    let base = buf.as_ptr() as usize;
    let offset = |p: *const u8| p as usize - base;
    let mut spans = Vec::with_capacity(req.headers.len());
    let (mut content_length, mut close, mut preflight) = (None::<u64>, false, false);
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        let lower = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if lower("transfer-encoding") || lower("expect") || lower("upgrade") {
            return Scan::Other;
        }
        preflight |= lower("access-control-request-method") && method == Method::OPTIONS;
        if lower("content-length") {
            let Some(n) = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
            else {
                return Scan::Other;
            };
            if content_length.is_some_and(|c| c != n) {
                return Scan::Other;
            }
            content_length = Some(n);
        }
        if lower("connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if !token.eq_ignore_ascii_case(b"keep-alive") && !token.is_empty() {
                    return Scan::Other; // names more hop-by-hop headers
                }
            }
        }
        let n = offset(h.name.as_ptr()) as u32;
        let v = offset(h.value.as_ptr()) as u32;
        spans.push((n, n + name.len() as u32, v, v + h.value.len() as u32));
    }
    let path = target.split('?').next().unwrap_or(target);
    let Some(route) = proxy.proxied_route(&method, path, false) else {
        return Scan::Other;
    };
    // A preflight with a body is rare enough to leave to hyper.
    let preflight = preflight && content_length.unwrap_or(0) == 0;

    let t = offset(target.as_ptr());
    let req = Request {
        method,
        route,
        head_len,
        target: (t, t + target.len()),
        spans,
        content_length: content_length.unwrap_or(0),
        close,
    };
    if preflight {
        Scan::Preflight(req)
    } else {
        Scan::Proxied(req)
    }
}

fn one_of(name: &[u8], names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// Request headers never forwarded: hop-by-hop ones, and those the gateway sets itself.
fn dropped_on_the_way_up(name: &[u8]) -> bool {
    is_hop_by_hop(name)
        || one_of(
            name,
            &[
                "host",
                "content-length",
                "x-request-id",
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-forwarded-host",
            ],
        )
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

pub(crate) fn push_header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn push_status(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn push_rate_headers(proxy: &Proxy, out: &mut Vec<u8>, d: &RateDecision) {
    let rule = proxy.rule_headers(d);
    push_header(out, b"ratelimit-policy", rule.policy().as_bytes());
    push_header(out, b"ratelimit-limit", rule.limit().as_bytes());
    out.extend_from_slice(b"ratelimit-remaining: ");
    push_decimal(out, u64::from(d.remaining));
    out.extend_from_slice(b"\r\nratelimit-reset: ");
    push_decimal(out, shared::rate_limit::secs_ceil(d.reset_after));
    out.extend_from_slice(b"\r\n");
}

/// The current time as an HTTP date, formatted at most once a second per thread.
pub(crate) fn now_http_date() -> String {
    thread_local! {
        static CACHE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
    }
    let now = std::time::SystemTime::now();
    let second = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    CACHE.with_borrow_mut(|(at, text)| {
        if *at != second || text.is_empty() {
            *at = second;
            *text = httpdate::fmt_http_date(now);
        }
        text.clone()
    })
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The security header lines, all of them, as one block.
pub(crate) static SECURITY_BLOCK: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let mut block = Vec::new();
    for (name, value) in shared::http::SECURITY_HEADERS {
        push_header(&mut block, name.as_bytes(), value.as_bytes());
    }
    block
});

/// One client connection's state across its requests.
pub struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
    head_up: Vec<u8>,
    /// When the wait for the current request head gives up.
    deadline: Instant,
    idle: Pin<Box<tokio::time::Sleep>>,
    /// The upstream timeout's timer, re-armed lazily (see [`within`]).
    upstream_timer: Pin<Box<tokio::time::Sleep>>,
}

/// How a served request left the connection.
enum After {
    /// Ready for the next request.
    KeepAlive,
    /// Close it.
    Close,
}

/// What the connection loop ended with.
pub enum Ended {
    /// Closed (by either side, by a timeout or by shutdown).
    Closed,
    /// The rest of the connection goes to hyper: the stream and the bytes already read.
    Handoff(Rewind),
}

impl Connection {
    /// Starts serving `stream` (answers from upstreams are awaited up to `upstream_timeout`).
    pub fn new(stream: TcpStream, upstream_timeout: Duration) -> Self {
        Self {
            upstream_timer: Box::pin(tokio::time::sleep(upstream_timeout)),
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
            out: Vec::with_capacity(2048),
            head_up: Vec::with_capacity(1024),
            deadline: Instant::now() + HEADER_READ_TIMEOUT,
            idle: Box::pin(tokio::time::sleep(HEADER_READ_TIMEOUT)),
        }
    }

    /// Serves proxied requests until the connection ends or needs hyper.
    pub async fn run(mut self, proxy: &Proxy, peer: &Peer, shutdown: &CancellationToken) -> Ended {
        loop {
            let req = match self.next_request(proxy, shutdown).await {
                Ok(Some(Scan::Proxied(req))) => req,
                Ok(Some(Scan::Preflight(req))) => {
                    let closing = req.close || shutdown.is_cancelled();
                    if self.preflight(proxy, req, closing).await.is_ok() && !closing {
                        continue;
                    }
                    crate::linger::close(&mut self.stream).await;
                    return Ended::Closed;
                }
                Ok(Some(Scan::BadTarget { head })) => {
                    let id = fresh_request_id();
                    let refused = self
                        .write_error(proxy, invalid_target(), id.as_bytes(), None, true, head)
                        .await;
                    if refused.is_ok() {
                        crate::linger::close(&mut self.stream).await;
                    }
                    return Ended::Closed;
                }
                Ok(Some(_)) => {
                    return Ended::Handoff(Rewind {
                        prefix: self.buf.freeze(),
                        stream: self.stream,
                        linger: Linger::default(),
                    })
                }
                Ok(None) | Err(_) => return Ended::Closed,
            };
            let closing = req.close || shutdown.is_cancelled();
            match self.serve(proxy, peer, req, closing).await {
                Ok(After::KeepAlive) if !shutdown.is_cancelled() => {}
                _ => {
                    crate::linger::close(&mut self.stream).await;
                    return Ended::Closed;
                }
            }
        }
    }

    /// Waits for a complete request head (or something for hyper); `None` when the client went
    /// away, stayed silent too long, or shutdown came while idle.
    async fn next_request<'p>(
        &mut self,
        proxy: &'p Proxy,
        shutdown: &CancellationToken,
    ) -> io::Result<Option<Scan<'p>>> {
        loop {
            if !self.buf.is_empty() {
                match scan(proxy, &self.buf) {
                    Scan::Partial => {}
                    done => return Ok(Some(done)),
                }
            }
            if self.buf.capacity() - self.buf.len() < 1024 {
                self.buf.reserve(8 * 1024);
            }
            match self.stream.try_read_buf(&mut self.buf) {
                Ok(0) => return Ok(None),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // Nothing complete: wait for the socket, the (lazily re-armed) deadline or shutdown.
            let idle = self.buf.is_empty();
            tokio::select! {
                biased;
                r = self.stream.readable() => r?,
                _ = shutdown.cancelled(), if idle => return Ok(None),
                _ = self.idle.as_mut() => {
                    if Instant::now() >= self.deadline {
                        return Ok(None);
                    }
                    self.idle.as_mut().reset(self.deadline);
                }
            }
        }
    }

    /// Proxies one request and relays the answer.
    async fn serve(
        &mut self,
        proxy: &Proxy,
        peer: &Peer,
        req: Request<'_>,
        closing: bool,
    ) -> io::Result<After> {
        let started = Instant::now();
        let head = self.buf.split_to(req.head_len).freeze();
        let route = req.route;
        let path = req.path(&head);
        let request_id = req.request_id(&head);
        let origin = req.header(&head, "origin");
        // On errors: whether the request body may be left (partly) unread on the connection.
        let outcome = match self.check(proxy, peer, &req, &head, path).await {
            Ok((decision, ticket)) => {
                let streamed = self.buf.len() < req.content_length as usize;
                let sent = self
                    .forward(proxy, peer, &req, &head, &request_id, started)
                    .await;
                let proxied = proxy.upstream_outcome(req.route, ticket, sent);
                proxied
                    .map(|answer| (answer, decision))
                    .map_err(|e| (e, streamed))
            }
            Err(e) => {
                // Refused before forwarding: a body already in hand is skipped.
                let in_hand = self.buf.len() as u64 >= req.content_length;
                if in_hand {
                    self.buf.advance(req.content_length as usize);
                }
                Err((e, !in_hand))
            }
        };
        let (status, after) = match outcome {
            Ok((answer, decision)) => {
                let status = answer.status;
                let after = self
                    .relay(
                        proxy,
                        answer,
                        &request_id,
                        origin,
                        decision.as_ref(),
                        closing,
                    )
                    .await?;
                (status, after)
            }
            Err((e, unread_body)) => {
                let close = closing || unread_body;
                let status = e.status;
                let bodiless = req.method == Method::HEAD;
                self.write_error(proxy, e, &request_id, origin, close, bodiless)
                    .await?;
                (
                    status,
                    if close {
                        After::Close
                    } else {
                        After::KeepAlive
                    },
                )
            }
        };
        let finished = Instant::now();
        let elapsed = (finished - started).as_secs_f64();
        // The wait for the next request head starts now.
        self.deadline = finished + HEADER_READ_TIMEOUT;
        proxy.record(
            req.method.as_str(),
            route,
            status.as_u16(),
            elapsed,
            &request_id,
        );
        Ok(after)
    }

    /// The bearer pre-check, the rate limits (the decision becomes `RateLimit-*` headers) and
    /// the route's circuit breaker (its ticket is settled with the upstream's outcome).
    async fn check<'p>(
        &self,
        proxy: &Proxy,
        peer: &Peer,
        req: &Request<'p>,
        head: &Bytes,
        path: &str,
    ) -> Result<(Option<RateDecision>, Ticket<'p>), ApiError> {
        let authorization = req
            .header(head, "authorization")
            .and_then(|v| std::str::from_utf8(v).ok());
        let forwarded_for = req.all(head, "x-forwarded-for");
        proxy
            .admit(
                req.route,
                peer,
                &req.method,
                path,
                authorization,
                forwarded_for,
            )
            .await
    }

    /// Writes the upstream request head and sends it with its body; the upstream's answer (`None`:
    /// none within the upstream timeout).
    async fn forward(
        &mut self,
        proxy: &Proxy,
        peer: &Peer,
        req: &Request<'_>,
        head: &Bytes,
        request_id: &Bytes,
        started: Instant,
    ) -> Option<Result<Answer, PoolError>> {
        let route = req.route;
        let up = &mut self.head_up;
        up.clear();
        up.extend_from_slice(req.method.as_str().as_bytes());
        up.push(b' ');
        up.extend_from_slice(&head[req.target.0..req.target.1]);
        up.extend_from_slice(b" HTTP/1.1\r\n");
        let mut original_host = None;
        let mut forwarded_for: Option<Vec<u8>> = None;
        let (mut kept_proto, mut kept_host) = (false, false);
        for &(ns, ne, vs, ve) in &req.spans {
            let name = &head[ns as usize..ne as usize];
            let value = &head[vs as usize..ve as usize];
            if !dropped_on_the_way_up(name) {
                push_header(up, name, value);
                continue;
            }
            if name.eq_ignore_ascii_case(b"host") {
                original_host.get_or_insert(value);
            } else if name.eq_ignore_ascii_case(b"x-forwarded-for") {
                let joined = forwarded_for.get_or_insert_with(Vec::new);
                joined.extend_from_slice(value);
                joined.extend_from_slice(b", ");
            } else if peer.trusted && name.eq_ignore_ascii_case(b"x-forwarded-proto") {
                push_header(up, name, value);
                kept_proto = true;
            } else if peer.trusted && name.eq_ignore_ascii_case(b"x-forwarded-host") {
                push_header(up, name, value);
                kept_host = true;
            }
        }
        push_header(up, b"host", route.host.as_bytes());
        match forwarded_for {
            Some(mut joined) => {
                joined.extend_from_slice(peer.value.as_bytes());
                push_header(up, b"x-forwarded-for", &joined);
            }
            None => push_header(up, b"x-forwarded-for", peer.value.as_bytes()),
        }
        if !kept_proto {
            push_header(up, b"x-forwarded-proto", b"http");
        }
        if let (false, Some(host)) = (kept_host, original_host) {
            push_header(up, b"x-forwarded-host", host);
        }
        push_header(up, b"x-request-id", request_id);
        let length = req.content_length;
        let had_length = req.header(head, "content-length").is_some();
        if had_length {
            up.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
        }
        up.extend_from_slice(b"\r\n");
        let in_hand = self
            .buf
            .len()
            .min(usize::try_from(length).unwrap_or(usize::MAX));
        let body = if length == 0 {
            RequestBody::None
        } else if in_hand as u64 == length {
            // The whole body came with the head: one write, no streaming.
            up.extend_from_slice(&self.buf.split_to(in_hand));
            RequestBody::None
        } else {
            let first = self.buf.split_to(in_hand).freeze();
            RequestBody::Length(
                length,
                Source::Client {
                    first,
                    stream: &mut self.stream,
                    remaining: length - in_hand as u64,
                },
            )
        };
        let retry = length == 0;
        let sent = route.pool.exchange(&req.method, &self.head_up, body, retry);
        within(&mut self.upstream_timer, started + proxy.timeout, sent).await
    }

    /// Writes the answer's head (upstream headers plus the gateway's own) and relays its body.
    async fn relay(
        &mut self,
        proxy: &Proxy,
        answer: Answer,
        request_id: &[u8],
        origin: Option<&[u8]>,
        decision: Option<&RateDecision>,
        closing: bool,
    ) -> io::Result<After> {
        let Answer {
            status,
            head,
            spans,
            facts,
            mut body,
        } = answer;
        let coded = facts.chunked || facts.other_coding;
        let chunked_out = body.is_chunked();
        // An answer given before the whole request body was sent leaves the rest of that body
        // unread on the client connection: the connection ends after it, and says so.
        let close = closing || body.is_close_delimited() || body.answered_early();
        let out = &mut self.out;
        out.clear();
        push_status(out, status);
        // Headers the upstream's `Connection` names are hop-by-hop too (rare: collected only then).
        let mut named: Vec<&[u8]> = Vec::new();
        for &(ns, ne, vs, ve) in &spans {
            if head[ns as usize..ne as usize].eq_ignore_ascii_case(b"connection") {
                named.extend(
                    head[vs as usize..ve as usize]
                        .split(|b| *b == b',')
                        .map(|t| t.trim_ascii())
                        .filter(|t| !t.is_empty()),
                );
            }
        }
        let mut present = 0u16; // security headers the upstream set itself
        let (mut has_vary, mut has_date) = (false, false);
        for &(ns, ne, vs, ve) in &spans {
            let name = &head[ns as usize..ne as usize];
            if dropped_on_the_way_down(name, coded, decision.is_some())
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
            push_header(out, name, &head[vs as usize..ve as usize]);
        }
        if chunked_out {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        if !has_date {
            // A forwarded answer carries a Date (RFC 9110 §6.6.1); the services always send one.
            push_header(out, b"date", now_http_date().as_bytes());
        }
        if present == 0 {
            out.extend_from_slice(&SECURITY_BLOCK);
        } else {
            for (i, (name, value)) in shared::http::SECURITY_HEADERS.iter().enumerate() {
                if present & (1 << i) == 0 {
                    push_header(out, name.as_bytes(), value.as_bytes());
                }
            }
        }
        push_header(out, b"x-request-id", request_id);
        proxy.cors.write(out, origin, has_vary);
        if let Some(d) = decision {
            push_rate_headers(proxy, out, d);
        }
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        // Small answers: the body is usually in hand already and goes out with the head.
        let mut finished = false;
        while let Some(chunk) = poll_fn(|cx| body.poll_next(cx)).now_or_never() {
            match chunk {
                Some(Ok(data)) => frame(out, &data, chunked_out),
                Some(Err(e)) => return self.abort(e).await,
                None => {
                    finished = true;
                    break;
                }
            }
        }
        if finished && chunked_out {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        self.stream.write_all(&self.out).await?;
        if !finished {
            loop {
                match poll_fn(|cx| body.poll_next(cx)).await {
                    Some(Ok(data)) => {
                        self.out.clear();
                        frame(&mut self.out, &data, chunked_out);
                        self.stream.write_all(&self.out).await?;
                    }
                    Some(Err(e)) => return self.abort(e).await,
                    None => break,
                }
            }
            if chunked_out {
                self.stream.write_all(b"0\r\n\r\n").await?;
            }
        }
        Ok(if close {
            After::Close
        } else {
            After::KeepAlive
        })
    }

    /// A broken upstream body: the client sees the connection end early, never a complete answer.
    async fn abort(&mut self, e: io::Error) -> io::Result<After> {
        tracing::warn!(error = %e, "upstream body failed mid-answer");
        Err(e)
    }

    /// Answers a CORS preflight (no body: checked when scanned) without the upstream.
    async fn preflight(&mut self, proxy: &Proxy, req: Request<'_>, close: bool) -> io::Result<()> {
        let head = self.buf.split_to(req.head_len).freeze();
        let request_id = req.request_id(&head);
        crate::preflight::write(
            &mut self.out,
            &proxy.cors,
            req.header(&head, "origin"),
            req.header(&head, "access-control-request-headers"),
            &request_id,
            close,
        );
        self.stream.write_all(&self.out).await
    }

    async fn write_error(
        &mut self,
        proxy: &Proxy,
        e: ApiError,
        request_id: &[u8],
        origin: Option<&[u8]>,
        close: bool,
        bodiless: bool,
    ) -> io::Result<()> {
        let body = serde_json::to_vec(&e.body()).unwrap_or_default();
        let out = &mut self.out;
        out.clear();
        push_status(out, e.status);
        push_header(out, b"date", now_http_date().as_bytes());
        push_header(out, b"content-type", b"application/json");
        push_header(out, b"content-length", body.len().to_string().as_bytes());
        for (name, value) in &e.headers {
            push_header(out, name.as_str().as_bytes(), value.as_bytes());
        }
        out.extend_from_slice(&SECURITY_BLOCK);
        push_header(out, b"x-request-id", request_id);
        proxy.cors.write(out, origin, false);
        if close {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !bodiless {
            out.extend_from_slice(&body);
        }
        self.stream.write_all(&self.out).await
    }
}

/// Runs `fut` until `deadline`; `None` if it has not finished by then. `timer` is one long-lived
/// timer per connection whose deadline never lies after the current one (deadlines only move
/// forward): when it fires early it is re-armed, so a request that ends in time touches no timer.
async fn within<F: std::future::Future>(
    timer: &mut Pin<Box<tokio::time::Sleep>>,
    deadline: Instant,
    fut: F,
) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return Some(out),
            _ = timer.as_mut() => {
                if Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

/// Appends body bytes, as a chunk when the answer is chunked.
fn frame(out: &mut Vec<u8>, data: &[u8], chunked: bool) {
    if data.is_empty() {
        return;
    }
    if chunked {
        out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(data);
    }
}

/// Longest wait for a request head (slow or idle clients).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection handed to hyper: the bytes already read come first, and hyper's shutdown at the
/// end of the connection is a lingering close.
pub struct Rewind {
    prefix: Bytes,
    stream: TcpStream,
    linger: Linger,
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.linger.poll_close(cx, &mut this.stream).map(Ok)
    }
}

/// Whether `cors` lets `origin` through, for the raw answer path.
impl Cors {
    /// Writes the CORS answer headers (same rules as [`Cors::apply`]).
    pub fn write(&self, out: &mut Vec<u8>, origin: Option<&[u8]>, has_vary: bool) {
        if self.write_origin(out, origin) && !has_vary {
            push_header(out, b"vary", b"origin");
        }
        push_header(
            out,
            b"access-control-expose-headers",
            crate::headers::EXPOSED.as_bytes(),
        );
    }
}

impl Cors {
    /// Writes `access-control-allow-origin` when `origin` may read the answer; `true` when the
    /// answer depends on the origin (a listed one).
    pub fn write_origin(&self, out: &mut Vec<u8>, origin: Option<&[u8]>) -> bool {
        match (self, origin) {
            (Cors::Any, _) => {
                out.extend_from_slice(b"access-control-allow-origin: *\r\n");
                false
            }
            (Cors::List(list), Some(origin)) if list.iter().any(|o| o.as_bytes() == origin) => {
                push_header(out, b"access-control-allow-origin", origin);
                true
            }
            (Cors::List(_), _) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn within_waits_for_the_real_deadline_when_its_timer_fires_early() {
        let start = Instant::now();
        let mut timer = Box::pin(tokio::time::sleep(Duration::from_secs(1)));
        // Finishes after the timer's first firing but before the deadline.
        let late = tokio::time::sleep(Duration::from_secs(2));
        let deadline = start + Duration::from_secs(3);
        assert_eq!(within(&mut timer, deadline, late).await, Some(()));
        // Never finishes: gives up at the deadline, not at the timer's first firing.
        let never = std::future::pending::<()>();
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(within(&mut timer, deadline, never).await, None);
        assert!(Instant::now() >= deadline);
        assert!(Instant::now() < deadline + Duration::from_millis(10));
    }

    #[test]
    fn decimals_and_dates_are_written_as_http_wants_them() {
        let mut out = Vec::new();
        for n in [0, 7, 42, 1000, u64::MAX] {
            out.clear();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        assert!(httpdate::parse_http_date(&now_http_date()).is_ok());
    }
}
