//! The upstream connection pool: per service a stack of idle HTTP/1.1 connections (hyper's
//! low-level client), reused as soon as a response body has been relayed to its end. A lean
//! replacement for hyper-util's legacy client, which spawns a task per request to re-pool.

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// Idle connections kept per upstream.
const MAX_IDLE: usize = 1024;
/// How long a pooled connection may take to become ready again before it is dropped.
const READY_WAIT: Duration = Duration::from_millis(250);

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

/// Keep-alive connections to one upstream `host:port`.
pub struct Pool {
    authority: String,
    connect_timeout: Duration,
    idle: Mutex<Vec<SendRequest<Incoming>>>,
    /// Connection tasks, owned here so that none is detached; aborted when the pool is dropped.
    tasks: Mutex<JoinSet<()>>,
}

impl Pool {
    /// A pool for `authority` (`host:port`).
    pub fn new(authority: &str, connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            authority: authority.to_string(),
            connect_timeout,
            idle: Mutex::new(Vec::new()),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    fn pop_idle(&self) -> Option<SendRequest<Incoming>> {
        self.idle.lock().ok()?.pop()
    }

    fn put_back(&self, sender: SendRequest<Incoming>) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(sender);
            }
        }
    }

    async fn connect(&self) -> Result<SendRequest<Incoming>, PoolError> {
        let stream =
            tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.authority))
                .await
                .map_err(|_| PoolError::Connect(std::io::ErrorKind::TimedOut.into()))?
                .map_err(PoolError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(PoolError::Http)?;
        if let Ok(mut tasks) = self.tasks.lock() {
            while tasks.try_join_next().is_some() {}
            tasks.spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "upstream connection ended");
                }
            });
        }
        Ok(sender)
    }

    /// An idle connection that is ready for a request, or a new one.
    async fn checkout(&self) -> Result<SendRequest<Incoming>, PoolError> {
        while let Some(mut sender) = self.pop_idle() {
            if sender.is_ready() {
                return Ok(sender);
            }
            if sender.is_closed() {
                continue;
            }
            // Its last response just ended; the connection task is about to accept the next one.
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                return Ok(sender);
            }
        }
        self.connect().await
    }

    /// Sends `req` (origin-form URI) and returns the response; its body re-pools the connection at
    /// its end. A pooled connection that turns out closed before the request was written is
    /// replaced by a fresh one once.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<PooledBody>, PoolError> {
        let mut sender = self.checkout().await?;
        let res = match sender.try_send_request(req).await {
            Ok(res) => res,
            Err(mut e) => match e.take_message() {
                Some(req) => {
                    sender = self.connect().await?;
                    sender.send_request(req).await.map_err(PoolError::Http)?
                }
                None => return Err(PoolError::Http(e.into_error())),
            },
        };
        let (parts, body) = res.into_parts();
        let done = body.is_end_stream();
        let mut body = PooledBody {
            inner: body,
            sender: Some(sender),
            pool: self.clone(),
            done,
        };
        if done {
            body.release();
        }
        Ok(Response::from_parts(parts, body))
    }
}

/// An upstream response body that hands its connection back to the pool once fully read.
pub struct PooledBody {
    inner: Incoming,
    sender: Option<SendRequest<Incoming>>,
    pool: Arc<Pool>,
    done: bool,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.pool.put_back(sender);
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
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                self.done = true;
                self.release();
            }
            Poll::Ready(Some(Err(_))) => {
                // A broken body leaves the connection unusable: never re-pool it.
                self.sender = None;
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
