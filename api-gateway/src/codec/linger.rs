//! How the gateway closes a client connection: a lingering close. The client may still be sending
//! a body the gateway will not read (a service refused it early, or the gateway did), and closing a
//! socket with unread input makes the kernel reset the connection instead of ending it: the reset
//! fails the client's upload before it has read the answer, and some TCP stacks drop received
//! data on a reset. So the write side is shut down first (the answer is followed by a clean end),
//! then the client's input is read and discarded until it closes its side, for a bounded time and
//! amount, and only then is the socket closed.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Longest time spent discarding a client's input (a client that reads while it sends stops
/// within a round trip of the answer; one that reads only when done needs its body drained).
const LINGER_TIME: Duration = Duration::from_secs(2);
/// Most client bytes discarded.
const LINGER_BYTES: u64 = 16 * 1024 * 1024;

/// A lingering close in progress (its state kept across polls).
pub struct Linger {
    shut: bool,
    /// Started at the first poll.
    timer: Option<Pin<Box<Sleep>>>,
    left: u64,
}

impl Default for Linger {
    fn default() -> Self {
        Self {
            shut: false,
            timer: None,
            left: LINGER_BYTES,
        }
    }
}

impl Linger {
    /// Ready once `stream` may be closed: the client closed its side or failed, or a bound was
    /// reached.
    pub fn poll_close<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
    ) -> Poll<()> {
        if !self.shut {
            if ready!(Pin::new(&mut *stream).poll_shutdown(cx)).is_err() {
                return Poll::Ready(()); // not connected any more: nothing to wait for
            }
            self.shut = true;
        }
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER_TIME)));
        let mut scratch = [0u8; 16 * 1024];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                // (A client that keeps sending is interrupted by tokio's cooperative budget, so
                // the timer is still looked at.)
                Poll::Pending => return timer.as_mut().poll(cx),
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    self.left = self.left.saturating_sub(buf.filled().len() as u64);
                    if self.left == 0 {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(_) => return Poll::Ready(()),
            }
        }
    }
}

/// Closes the gateway's side of `stream` by lingering (the socket itself closes when dropped).
pub async fn close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let mut linger = Linger::default();
    poll_fn(|cx| linger.poll_close(cx, stream)).await;
}
