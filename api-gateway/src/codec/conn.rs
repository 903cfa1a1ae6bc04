//! One client connection over any [`Transport`] (a TCP socket, or an in-memory stream in tests):
//! the read buffer, the wait for the next request head (bounded by [`HEADER_READ_TIMEOUT`], cut
//! short by shutdown while idle), `100 Continue`, whole bodies for those who want them, and the
//! keep-alive loop that hands each parsed head to an [`Exchange`] and closes by lingering.

use super::body::{BodySource, ClientBody};
use super::chunked::{ChunkedDecoder, Decoded};
use super::head::{self, HeadError, RequestHead};
use super::transport::Transport;
use super::BodyFraming;
use bytes::{Buf, Bytes, BytesMut};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
// tokio's clock: the same as the system's, and paused with it in tests.
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

/// Longest wait for a request head (slow or idle clients).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What serves the requests of a connection (one per connection: it may keep state across them).
pub trait Exchange<S>: Send {
    /// Serves one request (`closing`: the connection ends after it whatever happens); whether
    /// the connection may carry another.
    fn serve(
        &mut self,
        conn: &mut ClientConn<S>,
        head: RequestHead,
        closing: bool,
    ) -> impl Future<Output = io::Result<bool>> + Send;

    /// Answers a request head that could not be accepted (the connection closes after it).
    fn refuse(
        &mut self,
        conn: &mut ClientConn<S>,
        e: HeadError,
    ) -> impl Future<Output = io::Result<()>> + Send;
}

/// A client connection's stream and buffers.
pub struct ClientConn<S> {
    /// The stream.
    pub stream: S,
    /// Bytes read and not consumed yet.
    pub buf: BytesMut,
    /// The answer being written (reused across requests).
    pub out: Vec<u8>,
    /// When the wait for the current request head gives up.
    deadline: Instant,
    /// The head timer, re-armed lazily (deadlines only move forward).
    idle: Pin<Box<Sleep>>,
}

/// What the wait for a request head ended with.
enum Next {
    Head(RequestHead),
    Refused(HeadError),
    Gone,
}

/// Serves `stream` with `exchange` until either side ends it or `shutdown` comes, then closes it
/// by lingering.
pub async fn serve_connection<S, E>(stream: S, exchange: &mut E, shutdown: &CancellationToken)
where
    S: Transport,
    E: Exchange<S>,
{
    let mut conn = ClientConn::new(stream);
    loop {
        let next = conn.next_head(shutdown).await;
        let again = match next {
            Next::Head(head) => {
                let closing = !head.keep_alive || shutdown.is_cancelled();
                let again = exchange.serve(&mut conn, head, closing).await;
                conn.deadline = Instant::now() + HEADER_READ_TIMEOUT;
                matches!(again, Ok(true)) && !closing && !shutdown.is_cancelled()
            }
            Next::Refused(e) => {
                let _ = exchange.refuse(&mut conn, e).await;
                false
            }
            Next::Gone => return,
        };
        if !again {
            super::linger::close(&mut conn.stream).await;
            return;
        }
    }
}

impl<S: Transport> ClientConn<S> {
    /// A connection over `stream`, waiting for its first head.
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
            out: Vec::with_capacity(2048),
            deadline: Instant::now() + HEADER_READ_TIMEOUT,
            idle: Box::pin(tokio::time::sleep(HEADER_READ_TIMEOUT)),
        }
    }

    /// Waits for a complete request head; `Gone` when the client went away, stayed silent too
    /// long, or shutdown came while idle.
    async fn next_head(&mut self, shutdown: &CancellationToken) -> Next {
        loop {
            if !self.buf.is_empty() {
                match head::parse(&self.buf) {
                    Ok(Some(head)) => return Next::Head(head),
                    Ok(None) => {}
                    Err(e) => return Next::Refused(e),
                }
            }
            match self.stream.try_fill(&mut self.buf) {
                Some(Ok(0) | Err(_)) => return Next::Gone,
                Some(Ok(_)) => continue,
                None => {}
            }
            let idle = self.buf.is_empty();
            let Self {
                stream,
                buf,
                deadline,
                idle: timer,
                ..
            } = self;
            tokio::select! {
                biased;
                r = poll_fn(|cx| stream.poll_fill(cx, buf)) => match r {
                    Ok(0) | Err(_) => return Next::Gone,
                    Ok(_) => {}
                },
                _ = shutdown.cancelled(), if idle => return Next::Gone,
                _ = timer.as_mut() => {
                    if Instant::now() >= *deadline {
                        return Next::Gone;
                    }
                    timer.as_mut().reset(*deadline);
                }
            }
        }
    }

    /// The body of the request just parsed (its head already taken off the buffer).
    pub fn body(&mut self, framing: BodyFraming) -> ClientBody<'_, S> {
        ClientBody::new(self, framing)
    }

    /// Whether all of a body framed as `framing` is in the buffer already.
    pub fn body_in_hand(&self, framing: BodyFraming) -> bool {
        match framing {
            BodyFraming::None => true,
            BodyFraming::Length(n) => self.buf.len() as u64 >= n,
            BodyFraming::Chunked => {
                let mut copy = self.buf.clone();
                let mut decoder = ChunkedDecoder::default();
                loop {
                    match decoder.decode(&mut copy) {
                        Ok(Decoded::Data(_)) => {}
                        Ok(Decoded::Done) => return true,
                        Ok(Decoded::NeedMore) | Err(_) => return false,
                    }
                }
            }
        }
    }

    /// Skips a body that is all in the buffer (see [`ClientConn::body_in_hand`]); `false` when
    /// it is not, and the connection cannot carry another request.
    pub fn skip_body(&mut self, framing: BodyFraming) -> bool {
        if !self.body_in_hand(framing) {
            return false;
        }
        match framing {
            BodyFraming::None => {}
            BodyFraming::Length(n) => self.buf.advance(n as usize),
            BodyFraming::Chunked => {
                let mut decoder = ChunkedDecoder::default();
                while let Ok(Decoded::Data(_)) = decoder.decode(&mut self.buf) {}
            }
        }
        true
    }

    /// Writes `out` to the client.
    pub async fn flush_out(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.out).await
    }

    /// Tells a client that sent `Expect: 100-continue` to send its body, unless it has begun to
    /// already (then it no longer waits). Called only once the request will be served, so that
    /// a refused request's body is never asked for.
    pub async fn go_on(&mut self, head: &RequestHead) -> io::Result<()> {
        if head.expect_continue && self.buf.is_empty() && head.body != BodyFraming::None {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        Ok(())
    }

    /// Reads a whole body framed as `framing`, stopping once it holds more than `limit` bytes;
    /// the bytes and whether the body was read to its end (`false`: more than `limit`, and the
    /// rest is left unread).
    pub async fn read_body(
        &mut self,
        framing: BodyFraming,
        limit: usize,
    ) -> io::Result<(Bytes, bool)> {
        let mut body = self.body(framing);
        let mut all = BytesMut::new();
        while let Some(piece) = poll_fn(|cx| body.poll_chunk(cx)).await {
            all.extend_from_slice(&piece?);
            if all.len() > limit {
                return Ok((all.freeze(), false));
            }
        }
        Ok((all.freeze(), true))
    }

    /// Writes `bytes` to the client.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Answers every request with its body's length; refusals with the status alone.
    struct Echo;

    impl<S: Transport> Exchange<S> for Echo {
        async fn serve(
            &mut self,
            conn: &mut ClientConn<S>,
            head: RequestHead,
            _closing: bool,
        ) -> io::Result<bool> {
            let _ = conn.buf.split_to(head.len);
            let mut body = conn.body(head.body);
            let mut n = 0;
            while let Some(piece) = poll_fn(|cx| body.poll_chunk(cx)).await {
                match piece {
                    Ok(p) => n += p.len(),
                    Err(_) => {
                        conn.write(b"bad body\n").await?;
                        return Ok(false);
                    }
                }
            }
            conn.write(format!("{} {n}\n", head.method).as_bytes())
                .await?;
            Ok(true)
        }

        async fn refuse(&mut self, conn: &mut ClientConn<S>, e: HeadError) -> io::Result<()> {
            conn.write(format!("refused {}\n", e.status.as_u16()).as_bytes())
                .await
        }
    }

    async fn exchange(input: &[u8]) -> String {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let shutdown = CancellationToken::new();
        let served = tokio::spawn(async move {
            serve_connection(server, &mut Echo, &shutdown).await;
        });
        client.write_all(input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        served.await.unwrap();
        out
    }

    #[tokio::test]
    async fn pipelined_requests_are_served_in_order_with_their_bodies() {
        let out = exchange(
            b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: a\r\n\r\n\
              PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(out, "POST 3\nGET 0\nPUT 2\n");
    }

    #[tokio::test]
    async fn a_malformed_chunk_or_head_ends_the_connection_and_nothing_after_is_read() {
        let out = exchange(
            b"PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\nxy\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        .await;
        assert_eq!(out, "bad body\n");
        let out = exchange(
            b"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxyGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
        )
        .await;
        assert_eq!(out, "refused 400\n");
    }

    #[tokio::test]
    async fn bodies_in_hand_are_skipped_and_others_are_not() {
        let mut conn = ClientConn::new(tokio::io::empty());
        conn.buf
            .extend_from_slice(b"3\r\nabc\r\n0\r\nt: 1\r\n\r\nNEXT");
        assert!(conn.body_in_hand(BodyFraming::Chunked));
        assert!(conn.skip_body(BodyFraming::Chunked));
        assert_eq!(&conn.buf[..], b"NEXT");
        assert!(!conn.skip_body(BodyFraming::Length(5)));
        assert!(conn.skip_body(BodyFraming::Length(4)));
        assert!(conn.buf.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_let_go_after_the_head_timeout() {
        let (_client, server) = tokio::io::duplex(1024);
        let started = Instant::now();
        serve_connection(server, &mut Echo, &CancellationToken::new()).await;
        assert!(started.elapsed() >= HEADER_READ_TIMEOUT);
    }
}
