//! Request bodies read from the client connection as they are asked for: `Content-Length` bytes or
//! strictly decoded chunks; a body that breaks off or is malformed fails, and so does everything
//! after it on the connection.

use super::chunked::{ChunkedDecoder, Decoded};
use super::conn::ClientConn;
use super::transport::Transport;
use super::BodyFraming;
use bytes::Bytes;
use std::io;
use std::task::{ready, Context, Poll};

/// Most body bytes handed on at once.
const BODY_CHUNK: usize = 64 * 1024;

/// A request body as a stream of pieces.
pub trait BodySource: Send {
    /// The next piece; `None` at the end; an error when the body broke off or is malformed.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>>;
}

enum BodyState {
    Length(u64),
    Chunked(ChunkedDecoder),
    Done,
    /// Broken off or malformed: what follows on the connection cannot be trusted.
    Failed,
}

/// A request body read from its client connection as it is asked for.
pub struct ClientBody<'a, S> {
    conn: &'a mut ClientConn<S>,
    state: BodyState,
}

impl<'a, S> ClientBody<'a, S> {
    /// The body framed as `framing` at the front of `conn`'s buffer.
    pub(super) fn new(conn: &'a mut ClientConn<S>, framing: BodyFraming) -> Self {
        let state = match framing {
            BodyFraming::None => BodyState::Done,
            BodyFraming::Length(n) => BodyState::Length(n),
            BodyFraming::Chunked => BodyState::Chunked(ChunkedDecoder::default()),
        };
        Self { conn, state }
    }

    /// Whether the body has been read to its end (cleanly).
    pub fn is_done(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }
}

impl<S: Transport> BodySource for ClientBody<'_, S> {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            let buf = &mut self.conn.buf;
            match &mut self.state {
                BodyState::Done => return Poll::Ready(None),
                BodyState::Failed => {
                    return Poll::Ready(Some(Err(io::ErrorKind::InvalidData.into())))
                }
                BodyState::Length(left) if !buf.is_empty() => {
                    let n = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(buf.len())
                        .min(BODY_CHUNK);
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = BodyState::Done;
                    }
                    return Poll::Ready(Some(Ok(buf.split_to(n).freeze())));
                }
                BodyState::Length(_) => {}
                BodyState::Chunked(decoder) => match decoder.decode(buf) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(Decoded::Done) => {
                        self.state = BodyState::Done;
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(what) => {
                        self.state = BodyState::Failed;
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            what,
                        ))));
                    }
                },
            }
            let conn = &mut *self.conn;
            match ready!(conn.stream.poll_fill(cx, &mut conn.buf)) {
                Ok(0) => {
                    self.state = BodyState::Failed;
                    return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
                }
                Ok(_) => {}
                Err(e) => {
                    self.state = BodyState::Failed;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
