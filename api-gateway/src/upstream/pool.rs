//! Keep-alive connections to one upstream: a stack of idle HTTP/1.1 connections per service,
//! checked for closure before reuse, and the connection type with the reads and the early-answer
//! aware writes an exchange needs.

use bytes::BytesMut;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 1024;
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
    /// The upstream answered with something that is not valid HTTP/1.1.
    Protocol(&'static str),
    /// The client's request body broke off or was malformed (the upstream got no complete request).
    ClientBody(io::Error),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Connect(e) => write!(f, "connect: {e}"),
            PoolError::Io(e) => write!(f, "io: {e}"),
            PoolError::Protocol(what) => write!(f, "protocol: {what}"),
            PoolError::ClientBody(e) => write!(f, "client body: {e}"),
        }
    }
}

impl std::error::Error for PoolError {}

/// One upstream connection and the bytes read from it but not consumed yet.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) buf: BytesMut,
    /// Taken from the pool (it has carried an earlier request).
    pub(super) reused: bool,
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
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }

    pub(super) async fn fill(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Writes `data` in full. Returns `true` instead if the upstream answers first (an early
    /// response such as 413: the rest of the request is then not sent). That shows either as bytes
    /// to read while writing or as a failed write: an upstream that answers and closes with part
    /// of the request unread resets the connection, and what it sent before the reset is still
    /// there to read.
    pub(super) async fn write_or_answer(&mut self, mut data: &[u8]) -> io::Result<bool> {
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
    pub(super) fn try_fill(&mut self) -> io::Result<bool> {
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

impl Pool {
    /// A pool for `authority` (`host:port`).
    pub fn new(authority: &str, connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            authority: authority.to_string(),
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub(super) fn put_back(&self, mut conn: Conn) {
        conn.reused = true;
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
    }

    pub(super) async fn connect(&self) -> Result<Conn, PoolError> {
        let stream =
            tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.authority))
                .await
                .map_err(|_| PoolError::Connect(io::ErrorKind::TimedOut.into()))?
                .map_err(PoolError::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(Conn::new(stream))
    }

    /// An idle connection that still looks open, or a new one.
    pub(super) async fn checkout(&self) -> Result<Conn, PoolError> {
        loop {
            let popped = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            match popped {
                Some(conn) if conn.still_usable() => return Ok(conn),
                Some(_) => continue,
                None => return self.connect().await,
            }
        }
    }
}
