//! One exchange with an upstream: the request head and body written on a pooled connection (an
//! early answer, such as a 413 before the body is all sent, stops the upload and is kept), the
//! answer's head parsed with `httparse` into status, header positions and framing facts, and a
//! body that relays the rest from the socket and re-pools the connection at its end. A reused
//! connection found closed before any answer is retried once when the request had no body.

use super::answer::{scan_head, Answer, Facts};
use super::body::{Framing, PooledBody};
use super::pool::{Conn, Pool, PoolError};
use crate::codec::chunked::{encode_chunk, LAST_CHUNK};
use crate::codec::BodySource;
use hyper::Method;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;

/// How the request body goes upstream.
pub enum RequestBody<'a> {
    /// No body (GET and friends, or an empty body).
    None,
    /// Exactly this many bytes, streamed as they come.
    Length(u64, &'a mut dyn BodySource),
    /// Unknown length: re-chunked.
    Chunked(&'a mut dyn BodySource),
}

/// The outcome of one attempt on one connection (short-lived, so the size difference is fine).
#[allow(clippy::large_enum_variant)]
enum Attempt {
    Answered(Answer),
    /// The reused connection was found closed before any byte of an answer: safe to resend.
    Stale(io::Error),
}

impl Pool {
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
        let body = PooledBody::new(conn, self.clone(), framing, reusable, answered_early);
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
    source: &mut dyn BodySource,
    chunked: bool,
) -> Result<bool, PoolError> {
    let mut scratch = Vec::new();
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
            encode_chunk(&mut scratch, &data);
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
            .write_or_answer(LAST_CHUNK)
            .await
            .map_err(PoolError::Io);
    }
    Ok(false)
}
