//! The upstream connection pool: per service a stack of idle keep-alive HTTP/1.1 connections
//! (hyper's low-level client). A connection is driven by the task that uses it, while it waits for
//! the response head and while the body is relayed, so a proxied request costs no extra task
//! wake-ups; it returns to the pool once its response body has ended.

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 1024;

/// Why an upstream call failed.
#[derive(Debug)]
pub enum PoolError {
    /// No connection could be made (refused, unreachable, DNS, connect timeout).
    Connect(std::io::Error),
    /// The connection failed while sending or receiving.
    Http(hyper::Error),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Connect(e) => write!(f, "connect: {e}"),
            PoolError::Http(e) => write!(f, "http: {e}"),
        }
    }
}

/// One upstream connection: the request handle and the connection future that does its I/O.
struct Conn {
    sender: SendRequest<Incoming>,
    io: Io,
    /// The connection future has completed (closed or failed); it must not be polled again.
    finished: bool,
}

impl Conn {
    /// Drives the connection's I/O once.
    fn poll_io(&mut self, cx: &mut Context<'_>) {
        poll_io(&mut self.io, &mut self.finished, cx);
    }

    /// Runs `fut` while driving the connection.
    async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        poll_fn(|cx| {
            self.poll_io(cx);
            fut.as_mut().poll(cx)
        })
        .await
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

    fn pop_idle(&self) -> Option<Conn> {
        self.idle.lock().ok()?.pop()
    }

    fn put_back(&self, conn: Conn) {
        if conn.finished || conn.sender.is_closed() {
            return;
        }
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
                .map_err(|_| PoolError::Connect(std::io::ErrorKind::TimedOut.into()))?
                .map_err(PoolError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, io) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(PoolError::Http)?;
        Ok(Conn {
            sender,
            io: Box::pin(io),
            finished: false,
        })
    }

    /// An idle connection that is ready for a request (stale ones are dropped), or a new one.
    async fn checkout(&self) -> Result<Conn, PoolError> {
        while let Some(mut conn) = self.pop_idle() {
            // Drive the connection until it takes a request; a closed one finishes instead.
            let Conn {
                sender,
                io,
                finished,
            } = &mut conn;
            let ready = poll_fn(|cx| {
                poll_io(io, finished, cx);
                sender.poll_ready(cx)
            })
            .await;
            if ready.is_ok() && !conn.finished {
                return Ok(conn);
            }
        }
        self.connect().await
    }

    /// Sends `req` (origin-form URI) and returns the response, whose body keeps driving the
    /// connection and re-pools it at its end. If a pooled connection turns out closed before the
    /// request was written, the request goes out once more on a fresh connection.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<PooledBody>, PoolError> {
        let mut conn = self.checkout().await?;
        let sent = conn.sender.try_send_request(req);
        let res = match conn.drive(sent).await {
            Ok(res) => res,
            Err(mut e) => match e.take_message() {
                Some(req) => {
                    conn = self.connect().await?;
                    let sent = conn.sender.send_request(req);
                    conn.drive(sent).await.map_err(PoolError::Http)?
                }
                None => return Err(PoolError::Http(e.into_error())),
            },
        };
        let (parts, body) = res.into_parts();
        let mut body = PooledBody {
            inner: body,
            conn: Some(conn),
            pool: self.clone(),
            done: false,
        };
        if body.inner.is_end_stream() {
            body.done = true;
            body.release();
        }
        Ok(Response::from_parts(parts, body))
    }
}

type Io = Pin<Box<Connection<TokioIo<TcpStream>, Incoming>>>;

/// Polls a connection future unless it already completed.
fn poll_io(io: &mut Io, finished: &mut bool, cx: &mut Context<'_>) {
    if !*finished {
        if let Poll::Ready(result) = io.as_mut().poll(cx) {
            if let Err(e) = result {
                tracing::debug!(error = %e, "upstream connection failed");
            }
            *finished = true;
        }
    }
}

/// An upstream response body that drives its connection and hands it back to the pool at its end.
pub struct PooledBody {
    inner: Incoming,
    conn: Option<Conn>,
    pool: Arc<Pool>,
    done: bool,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(conn) = self.conn.as_mut() {
            conn.poll_io(cx);
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                self.done = true;
                self.release();
            }
            Poll::Ready(Some(Err(_))) => {
                // A broken body leaves the connection unusable: never re-pool it.
                self.conn = None;
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // hyper stops polling once a sized body has delivered its last byte; re-pool then too.
        // A body dropped early (client went away) closes its connection instead.
        if self.done || self.inner.is_end_stream() {
            self.release();
        }
    }
}
