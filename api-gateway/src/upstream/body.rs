//! An upstream answer's body, read from its connection as the client takes it (`Content-Length`,
//! chunked or close-delimited); the connection returns to the pool once the body has ended
//! cleanly and the upstream keeps it alive.

use super::pool::{Conn, Pool};
use crate::codec::chunked::{ChunkedDecoder, Decoded};
use bytes::Bytes;
use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// How the response body ends.
pub(super) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes left.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(ChunkedDecoder),
    /// Until the upstream closes the connection.
    Close,
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
    pub(super) fn new(
        conn: Conn,
        pool: Arc<Pool>,
        framing: Framing,
        reusable: bool,
        answered_early: bool,
    ) -> Self {
        let mut body = Self {
            conn: Some(conn),
            pool,
            framing,
            reusable,
            answered_early,
            done: false,
        };
        body.settle();
        body
    }

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
