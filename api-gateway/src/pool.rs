//! The upstream side of the proxy: per service a stack of idle keep-alive HTTP/1.1 connections and
//! a lean client for them. The request head is written straight from the parsed request, the
//! response head is parsed with `httparse` and the response body is relayed from the socket by the
//! task that serves the client (no connection task, no channels, no extra wake-ups). A connection
//! goes back to the pool once its response has been read to the end.

use crate::chunked::{ChunkedDecoder, Decoded};
use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH};
use hyper::{Method, Request, Response, StatusCode};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 1024;
/// Largest upstream response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most header lines accepted in an upstream response head.
const MAX_HEADERS: usize = 100;
/// Read buffer size for upstream connections.
const READ_CHUNK: usize = 16 * 1024;
/// Longest wait, after a failed write, for an answer the upstream sent before the failure.
const ANSWER_AFTER_FAILED_WRITE: Duration = Duration::from_millis(100);

/// Why an upstream call failed.
#[derive(Debug)]
pub enum PoolError {
    /// No connection could be made (refused, unreachable, DNS, connect timeout).
    Connect(io::Error),
    /// The connection failed while sending or receiving.
    Io(io::Error),
    /// The client's request body broke off or was malformed (bad chunked framing) while it was
    /// being sent: the client's fault, not the upstream's.
    ClientBody(io::Error),
    /// The upstream answered with something that is not valid HTTP/1.1.
    Protocol(&'static str),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Connect(e) => write!(f, "connect: {e}"),
            PoolError::Io(e) => write!(f, "io: {e}"),
            PoolError::ClientBody(e) => write!(f, "client body: {e}"),
            PoolError::Protocol(what) => write!(f, "protocol: {what}"),
        }
    }
}

impl std::error::Error for PoolError {}

/// One upstream connection and the bytes read from it but not consumed yet.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// Taken from the pool (it has carried an earlier request).
    reused: bool,
}

impl Conn {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            reused: false,
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` is end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }

    async fn fill(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Writes `data` in full. Returns `true` instead if the upstream answers first (an early
    /// response such as 413: the rest of the request is then not sent). That shows either as bytes
    /// to read while writing or as a failed write: an upstream that answers and closes with part
    /// of the request unread resets the connection, and what it sent before the reset is still
    /// there to read.
    async fn write_or_answer(&mut self, mut data: &[u8]) -> io::Result<bool> {
        while !data.is_empty() {
            match self.stream.try_write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tokio::select! {
                        biased;
                        r = self.stream.writable() => r?,
                        r = self.stream.readable() => {
                            r?;
                            if self.try_fill()? {
                                return Ok(true);
                            }
                        }
                    }
                }
                Err(e) => {
                    // Whatever the upstream sent came before the reset, so the wait is short.
                    let answer = tokio::time::timeout(ANSWER_AFTER_FAILED_WRITE, self.fill()).await;
                    return match answer {
                        Ok(Ok(n)) if n > 0 => Ok(true),
                        _ => Err(e),
                    };
                }
            }
        }
        Ok(false)
    }

    /// A non-blocking read after a readiness signal: `true` when bytes arrived.
    fn try_fill(&mut self) -> io::Result<bool> {
        self.buf.reserve(READ_CHUNK);
        match self.stream.try_read_buf(&mut self.buf) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether an idle connection can still carry a request: nothing unread, not closed by the
    /// upstream (an idle connection that reads end-of-stream or stray bytes is dropped).
    fn still_usable(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// Keep-alive connections to one upstream `host:port`.
pub struct Pool {
    authority: String,
    connect_timeout: Duration,
    idle: Mutex<Vec<Conn>>,
}

/// Where a request body comes from.
pub enum Source<'a> {
    /// hyper's request body (connections served by hyper).
    Incoming(Incoming),
    /// The gateway's own connection loop: `first` already read, then `remaining` more bytes from
    /// the client socket.
    Client {
        /// Body bytes read along with the request head.
        first: Bytes,
        /// The client connection.
        stream: &'a mut TcpStream,
        /// Bytes still to read from it.
        remaining: u64,
    },
}

impl Source<'_> {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        match self {
            Source::Incoming(body) => loop {
                return match ready!(Pin::new(&mut *body).poll_frame(cx)) {
                    None => Poll::Ready(None),
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => Poll::Ready(Some(Ok(data))),
                        Err(_) => continue, // trailers are not forwarded
                    },
                    Some(Err(e)) => Poll::Ready(Some(Err(io::Error::other(format!(
                        "client request body: {e}"
                    ))))),
                };
            },
            Source::Client {
                first,
                stream,
                remaining,
            } => {
                if !first.is_empty() {
                    return Poll::Ready(Some(Ok(std::mem::take(first))));
                }
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(64 * 1024);
                let mut chunk = vec![0u8; want];
                let mut rb = tokio::io::ReadBuf::new(&mut chunk);
                ready!(tokio::io::AsyncRead::poll_read(
                    Pin::new(&mut **stream),
                    cx,
                    &mut rb
                ))?;
                let got = rb.filled().len();
                if got == 0 {
                    return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
                }
                chunk.truncate(got);
                *remaining -= got as u64;
                Poll::Ready(Some(Ok(Bytes::from(chunk))))
            }
        }
    }
}

/// How the request body goes upstream.
pub enum RequestBody<'a> {
    /// No body (GET and friends, or an empty body).
    None,
    /// Exactly this many bytes, streamed as they come.
    Length(u64, Source<'a>),
    /// Unknown length: re-chunked.
    Chunked(Source<'a>),
}

/// Where a header lies in a response head: name start/end, value start/end.
pub type Span = (u32, u32, u32, u32);

/// An upstream answer: its head as received, where each header lies in it, what its framing is,
/// and its body (which re-pools the connection at its end).
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The raw head (status line and headers).
    pub head: Bytes,
    /// Where each header lies in `head`.
    pub spans: Vec<Span>,
    /// Framing and connection facts of the head.
    pub facts: Facts,
    /// The body.
    pub body: PooledBody,
}

/// The outcome of one attempt on one connection (short-lived, so the size difference is fine).
#[allow(clippy::large_enum_variant)]
enum Attempt {
    Answered(Answer),
    /// The reused connection was found closed before any byte of an answer: safe to resend.
    Stale(io::Error),
}

impl Pool {
    /// A pool for `authority` (`host:port`).
    pub fn new(authority: &str, connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            authority: authority.to_string(),
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn put_back(&self, mut conn: Conn) {
        conn.reused = true;
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }

    async fn connect(&self) -> Result<Conn, PoolError> {
        let stream =
            tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.authority))
                .await
                .map_err(|_| PoolError::Connect(io::ErrorKind::TimedOut.into()))?
                .map_err(PoolError::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(Conn::new(stream))
    }

    /// An idle connection that still looks open, or a new one.
    async fn checkout(&self) -> Result<Conn, PoolError> {
        loop {
            let popped = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match popped {
                Some(conn) if conn.still_usable() => return Ok(conn),
                Some(_) => continue,
                None => return self.connect().await,
            }
        }
    }

    /// Sends `req` (origin-form URI, hop-by-hop headers already removed) and returns the response,
    /// whose body reads from the connection and re-pools it at its end.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<PooledBody>, PoolError> {
        let (parts, body) = req.into_parts();
        let body = if body.is_end_stream() {
            RequestBody::None
        } else if let Some(n) = body.size_hint().exact() {
            RequestBody::Length(n, Source::Incoming(body))
        } else {
            RequestBody::Chunked(Source::Incoming(body))
        };
        let head = encode_head(&parts, &body);
        let retry = matches!(body, RequestBody::None);
        let answer = self.exchange(&parts.method, &head, body, retry).await?;
        let headers = answer.headers()?;
        let mut response = Response::new(answer.body);
        *response.status_mut() = answer.status;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// Sends an encoded request head (and its body) and returns the upstream's answer. With
    /// `retry` (a request without a body), a reused connection found closed before any answer
    /// makes the request go out once more on a fresh connection.
    pub async fn exchange(
        self: &Arc<Self>,
        method: &Method,
        head: &[u8],
        body: RequestBody<'_>,
        retry: bool,
    ) -> Result<Answer, PoolError> {
        let head_only = retry && matches!(body, RequestBody::None);
        let conn = self.checkout().await?;
        let reused = conn.reused;
        match self.attempt(conn, method, head, body).await? {
            Attempt::Answered(answer) => Ok(answer),
            Attempt::Stale(e) if head_only && reused => {
                tracing::debug!(error = %e, "pooled upstream connection was closed; retrying");
                let conn = self.connect().await?;
                match self.attempt(conn, method, head, RequestBody::None).await? {
                    Attempt::Answered(answer) => Ok(answer),
                    Attempt::Stale(e) => Err(PoolError::Io(e)),
                }
            }
            Attempt::Stale(e) => Err(PoolError::Io(e)),
        }
    }

    async fn attempt(
        self: &Arc<Self>,
        mut conn: Conn,
        method: &Method,
        head: &[u8],
        body: RequestBody<'_>,
    ) -> Result<Attempt, PoolError> {
        let reused = conn.reused;
        let stale = |e: io::Error| -> Result<Attempt, PoolError> {
            if reused && is_closed_error(&e) {
                Ok(Attempt::Stale(e))
            } else {
                Err(PoolError::Io(e))
            }
        };
        let mut answered_early = match conn.write_or_answer(head).await {
            Ok(early) => early,
            Err(e) => return stale(e),
        };
        if !answered_early {
            answered_early = match body {
                RequestBody::None => false,
                RequestBody::Length(_, source) => send_body(&mut conn, source, false).await?,
                RequestBody::Chunked(source) => send_body(&mut conn, source, true).await?,
            };
        }
        let mut spans = Vec::with_capacity(16);
        let (status, head_len, facts) = loop {
            let scanned = if conn.buf.is_empty() {
                None
            } else {
                scan_head(&conn.buf, &mut spans)?
            };
            match scanned {
                Some((status, len, _)) if status.is_informational() => {
                    let _ = conn.buf.split_to(len);
                }
                Some((status, len, version)) => {
                    let facts = Facts::of(&conn.buf[..len], &spans, version)?;
                    break (status, len, facts);
                }
                None => match conn.fill().await {
                    Ok(0) if conn.buf.is_empty() && !answered_early => {
                        return stale(io::ErrorKind::UnexpectedEof.into())
                    }
                    Ok(0) => return Err(PoolError::Protocol("connection closed mid-head")),
                    Ok(_) => {}
                    Err(e) if conn.buf.is_empty() => return stale(e),
                    Err(e) => return Err(PoolError::Io(e)),
                },
            }
        };
        let head = conn.buf.split_to(head_len).freeze();
        let framing = facts.framing(method, status);
        let reusable = facts.keep_alive && !answered_early && !matches!(framing, Framing::Close);
        let mut body = PooledBody {
            conn: Some(conn),
            pool: self.clone(),
            framing,
            reusable,
            answered_early,
            done: false,
        };
        body.settle();
        Ok(Attempt::Answered(Answer {
            status,
            head,
            spans,
            facts,
            body,
        }))
    }
}

/// A broken or closed connection (as opposed to a timeout or a local failure).
fn is_closed_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Streams the request body; `true` if the upstream answered before it was all sent.
async fn send_body(
    conn: &mut Conn,
    mut source: Source<'_>,
    chunked: bool,
) -> Result<bool, PoolError> {
    let mut scratch = BytesMut::new();
    loop {
        let chunk = tokio::select! {
            biased;
            chunk = poll_fn(|cx| source.poll_chunk(cx)) => chunk,
            r = conn.stream.readable() => {
                r.map_err(PoolError::Io)?;
                if conn.try_fill().map_err(PoolError::Io)? {
                    return Ok(true);
                }
                continue;
            }
        };
        let data = match chunk {
            None => break,
            Some(Ok(data)) => data,
            Some(Err(e)) => return Err(PoolError::ClientBody(e)),
        };
        if data.is_empty() {
            continue;
        }
        let early = if chunked {
            scratch.clear();
            scratch.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            scratch.extend_from_slice(&data);
            scratch.extend_from_slice(b"\r\n");
            conn.write_or_answer(&scratch).await
        } else {
            conn.write_or_answer(&data).await
        };
        if early.map_err(PoolError::Io)? {
            return Ok(true);
        }
    }
    if chunked {
        return conn
            .write_or_answer(b"0\r\n\r\n")
            .await
            .map_err(PoolError::Io);
    }
    Ok(false)
}

/// The request line and headers, with the body framing the upstream will see.
fn encode_head(parts: &hyper::http::request::Parts, body: &RequestBody) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut had_length = false;
    for (name, value) in &parts.headers {
        if name == CONTENT_LENGTH {
            had_length = true;
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match body {
        RequestBody::None if had_length => out.extend_from_slice(b"content-length: 0\r\n"),
        RequestBody::None => {}
        RequestBody::Length(n, _) => {
            out.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
        }
        RequestBody::Chunked(_) => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What a response head says about its body and its connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    /// The upstream keeps the connection open.
    pub keep_alive: bool,
    /// The body is chunked.
    pub chunked: bool,
    /// `Transfer-Encoding` present but not ending in `chunked`: the body runs to end of stream.
    pub other_coding: bool,
    /// `Content-Length`, unless a transfer coding overrides it.
    pub length: Option<u64>,
}

/// How the response body ends.
enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes left.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(ChunkedDecoder),
    /// Until the upstream closes the connection.
    Close,
}

impl Facts {
    /// Reads the framing headers of a scanned head.
    fn of(head: &[u8], spans: &[Span], version: u8) -> Result<Self, PoolError> {
        let mut facts = Facts {
            keep_alive: version == 1,
            ..Facts::default()
        };
        for &(ns, ne, vs, ve) in spans {
            let name = &head[ns as usize..ne as usize];
            let raw = &head[vs as usize..ve as usize];
            if name.eq_ignore_ascii_case(b"transfer-encoding") {
                let last = raw.rsplit(|b| *b == b',').next().unwrap_or_default();
                facts.chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
                facts.other_coding = !facts.chunked;
            } else if name.eq_ignore_ascii_case(b"content-length") {
                let n = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .ok_or(PoolError::Protocol("bad content-length"))?;
                if facts.length.is_some_and(|l| l != n) {
                    return Err(PoolError::Protocol("conflicting content-length"));
                }
                facts.length = Some(n);
            } else if name.eq_ignore_ascii_case(b"connection") {
                for token in raw.split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        facts.keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                        facts.keep_alive = true;
                    }
                }
            }
        }
        if facts.chunked || facts.other_coding {
            // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3).
            facts.length = None;
        }
        Ok(facts)
    }

    fn framing(&self, method: &Method, status: StatusCode) -> Framing {
        if method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Framing::Empty;
        }
        if self.chunked {
            return Framing::Chunked(ChunkedDecoder::default());
        }
        match self.length {
            Some(n) if !self.other_coding => Framing::Length(n),
            _ => Framing::Close,
        }
    }
}

/// Finds a complete response head at the front of `buf`: its status, length and HTTP minor
/// version, with the header positions in `spans`; `None` when more bytes are needed.
fn scan_head(
    buf: &[u8],
    spans: &mut Vec<Span>,
) -> Result<Option<(StatusCode, usize, u8)>, PoolError> {
    // Uninitialised header slots: nothing to zero on every response.
    let mut slots =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
            return Err(PoolError::Protocol("response head too large"))
        }
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(PoolError::Protocol("response head too large"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(PoolError::Protocol("malformed response head")),
    };
    let status = res
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(PoolError::Protocol("bad status code"))?;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return Err(PoolError::Protocol("unexpected protocol switch"));
    }
    let base = buf.as_ptr() as usize;
    spans.clear();
    for h in res.headers.iter() {
        let name = (h.name.as_ptr() as usize - base) as u32;
        let value = (h.value.as_ptr() as usize - base) as u32;
        spans.push((
            name,
            name + h.name.len() as u32,
            value,
            value + h.value.len() as u32,
        ));
    }
    Ok(Some((status, len, res.version.unwrap_or(1))))
}

impl Answer {
    /// The answer's headers as a map, without `Transfer-Encoding` and, when a transfer coding is
    /// set, without `Content-Length`.
    pub fn headers(&self) -> Result<HeaderMap, PoolError> {
        build_headers(&self.head, &self.spans, &self.facts)
    }
}

fn build_headers(head: &Bytes, spans: &[Span], facts: &Facts) -> Result<HeaderMap, PoolError> {
    let mut headers = HeaderMap::with_capacity(spans.len() + 24);
    let coded = facts.chunked || facts.other_coding;
    for &(ns, ne, vs, ve) in spans {
        let name = HeaderName::from_bytes(&head[ns as usize..ne as usize])
            .map_err(|_| PoolError::Protocol("bad header name"))?;
        if name == hyper::header::TRANSFER_ENCODING || (coded && name == CONTENT_LENGTH) {
            continue;
        }
        // Values are slices of the head's bytes: no copy.
        let value = HeaderValue::from_maybe_shared(head.slice(vs as usize..ve as usize))
            .map_err(|_| PoolError::Protocol("bad header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// An upstream response body, read from its connection as the client takes it; the connection
/// returns to the pool once the body has ended (if the upstream keeps it alive).
pub struct PooledBody {
    conn: Option<Conn>,
    pool: Arc<Pool>,
    framing: Framing,
    reusable: bool,
    /// The upstream answered before the whole request body was sent.
    answered_early: bool,
    done: bool,
}

impl PooledBody {
    /// The body arrives chunked (and is relayed re-chunked).
    pub fn is_chunked(&self) -> bool {
        matches!(self.framing, Framing::Chunked(_))
    }

    /// The body ends when the upstream closes the connection.
    pub fn is_close_delimited(&self) -> bool {
        matches!(self.framing, Framing::Close)
    }

    /// The upstream answered before the whole request body was sent (the rest was never read
    /// from the client).
    pub fn answered_early(&self) -> bool {
        self.answered_early
    }

    /// Marks the body finished when nothing is left, handing the connection back.
    fn settle(&mut self) {
        let finished = match &self.framing {
            Framing::Empty | Framing::Length(0) => true,
            Framing::Chunked(d) => d.is_done(),
            _ => false,
        };
        if finished {
            self.finish(true);
        }
    }

    fn finish(&mut self, clean: bool) {
        self.done = true;
        if let Some(conn) = self.conn.take() {
            if clean && self.reusable && conn.buf.is_empty() {
                self.pool.put_back(conn);
            }
        }
    }

    /// The next piece of the body.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut self.framing {
                Framing::Empty | Framing::Length(0) => {
                    self.finish(true);
                    continue;
                }
                Framing::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(conn.buf.len());
                        *left -= n as u64;
                        let data = conn.buf.split_to(n).freeze();
                        self.settle();
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Framing::Chunked(decoder) => match decoder.decode(&mut conn.buf) {
                    Ok(Decoded::Data(data)) => {
                        self.settle();
                        return Poll::Ready(Some(Ok(data)));
                    }
                    Ok(Decoded::Done) => {
                        self.finish(true);
                        continue;
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(what) => {
                        self.finish(false);
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            what,
                        ))));
                    }
                },
                Framing::Close => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if matches!(self.framing, Framing::Close) => {
                    self.finish(false);
                }
                Ok(0) => {
                    self.finish(false);
                    return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
                }
                Ok(_) => {}
                Err(e) => {
                    self.finish(false);
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.get_mut()
            .poll_next(cx)
            .map(|next| next.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Empty => SizeHint::with_exact(0),
            Framing::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Head {
        status: StatusCode,
        headers: HeaderMap,
        facts: Facts,
    }

    impl Head {
        fn framing(&self, method: &Method) -> Framing {
            self.facts.framing(method, self.status)
        }
    }

    fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, PoolError> {
        let mut spans = Vec::new();
        let Some((status, len, version)) = scan_head(buf, &mut spans)? else {
            return Ok(None);
        };
        let facts = Facts::of(&buf[..len], &spans, version)?;
        let head = buf.split_to(len).freeze();
        let headers = build_headers(&head, &spans, &facts)?;
        Ok(Some(Head {
            status,
            headers,
            facts,
        }))
    }

    fn parsed(raw: &str) -> (Head, BytesMut) {
        let mut buf = BytesMut::from(raw.as_bytes());
        let head = parse_head(&mut buf).unwrap().unwrap();
        (head, buf)
    }

    #[test]
    fn a_head_is_parsed_and_the_body_left_in_the_buffer() {
        let (head, rest) = parsed(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 2\r\nx-a: 1\r\nx-a: 2\r\n\r\n{}",
        );
        assert_eq!(head.status, 201);
        assert_eq!(head.facts.length, Some(2));
        assert!(head.facts.keep_alive);
        assert_eq!(head.headers.get_all("x-a").iter().count(), 2);
        assert_eq!(&rest[..], b"{}");
        assert!(matches!(head.framing(&Method::GET), Framing::Length(2)));
        assert!(matches!(head.framing(&Method::HEAD), Framing::Empty));
    }

    #[test]
    fn partial_heads_wait_for_more_and_garbage_is_refused() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\ncontent-le"[..]);
        assert!(parse_head(&mut buf).unwrap().is_none());
        let mut buf = BytesMut::from(&b"SMTP ready\r\n\r\n"[..]);
        assert!(parse_head(&mut buf).is_err());
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n"[..],
        );
        assert!(parse_head(&mut buf).is_err());
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD + 1));
        assert!(parse_head(&mut BytesMut::from(&huge[..])).is_err());
    }

    #[test]
    fn chunked_wins_over_content_length_and_close_ends_keep_alive() {
        let (head, _) = parsed(
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n",
        );
        assert!(head.facts.chunked);
        assert!(!head.facts.keep_alive);
        assert!(head.headers.get(CONTENT_LENGTH).is_none());
        assert!(head.headers.get("transfer-encoding").is_none());
        let (head, _) = parsed("HTTP/1.0 200 OK\r\n\r\n");
        assert!(!head.facts.keep_alive);
        assert!(matches!(head.framing(&Method::GET), Framing::Close));
        let (head, _) = parsed("HTTP/1.1 204 No Content\r\n\r\n");
        assert!(matches!(head.framing(&Method::GET), Framing::Empty));
    }

    #[test]
    fn repeated_headers_stay_repeated_and_framing_headers_stay_behind() {
        let (head, _) = parsed(
            "HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nSet-Cookie: b=2\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n",
        );
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(head.headers.get("transfer-encoding").is_none());
        assert!(head.headers.get("content-length").is_none());
    }

    #[test]
    fn request_heads_carry_the_framing_the_body_needs() {
        let req = Request::post("/api/x?q=1")
            .header("content-length", "0")
            .header("x-b", "é".as_bytes())
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let head = encode_head(&parts, &RequestBody::None);
        assert_eq!(
            head,
            "POST /api/x?q=1 HTTP/1.1\r\nx-b: é\r\ncontent-length: 0\r\n\r\n".as_bytes()
        );
        let (parts, ()) = Request::get("/").body(()).unwrap().into_parts();
        assert_eq!(
            encode_head(&parts, &RequestBody::None),
            b"GET / HTTP/1.1\r\n\r\n"
        );
    }
}
