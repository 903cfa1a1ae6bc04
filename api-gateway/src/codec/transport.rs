//! What the codec reads from and writes to: any `AsyncRead + AsyncWrite` stream, with reads into
//! the connection's buffer that a TCP socket does without the generic read path's bookkeeping (a
//! non-blocking attempt first, then a wait for readiness: two system calls when the bytes are not
//! there yet, one when they are).

use bytes::BytesMut;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// Most bytes read at once.
const READ_CHUNK: usize = 8 * 1024;

/// A client connection's byte stream.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    /// Reads what is there now into `buf`: `None` when nothing is (or the stream cannot tell
    /// without waiting), `Some(Ok(0))` at its end.
    fn try_fill(&mut self, buf: &mut BytesMut) -> Option<io::Result<usize>> {
        let _ = buf;
        None
    }

    /// Reads into `buf`, waiting for bytes; `Ok(0)` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        reserve(buf);
        tokio_util::io::poll_read_buf(Pin::new(self), cx, buf)
    }
}

fn reserve(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_CHUNK);
    }
}

impl Transport for tokio::net::TcpStream {
    fn try_fill(&mut self, buf: &mut BytesMut) -> Option<io::Result<usize>> {
        reserve(buf);
        match self.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            done => Some(done),
        }
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_read_ready(cx))?;
            if let Some(done) = self.try_fill(buf) {
                return Poll::Ready(done);
            }
        }
    }
}

/// In-memory streams, for the codec's tests (the generic read path).
#[cfg(test)]
impl Transport for tokio::io::DuplexStream {}
#[cfg(test)]
impl Transport for tokio::io::Empty {}
