//! Raw-TCP helpers: scripted upstreams that see exactly what the gateway sends, and a client that
//! reads answers off the wire byte for byte.

use crate::helpers::TestApp;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// One upstream connection as a script sees it.
pub struct Wire {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Wire {
    /// Reads one request (head and `content-length` body); `None` once the gateway closed.
    pub async fn request(&mut self) -> Option<(String, Vec<u8>)> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).to_string();
        self.buf.drain(..end);
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap())
            })
            .unwrap_or(0);
        while self.buf.len() < len {
            let mut chunk = vec![0u8; 65536];
            let n = self.stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = self.buf.drain(..len).collect();
        Some((head, body))
    }

    pub async fn send(&mut self, raw: &[u8]) {
        let _ = self.stream.write_all(raw).await;
    }
}

/// A raw upstream on 127.0.0.1:0 running `script` for every connection (with its index); returns
/// its URL and the number of connections it has accepted.
pub async fn raw_upstream<F, Fut>(script: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(usize, Wire) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let index = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(script(
                index,
                Wire {
                    stream,
                    buf: Vec::new(),
                },
            ));
        }
    });
    (url, accepted)
}

/// One answer read off a raw connection: status, lowercase header lines, body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A raw client connection (or its read half, see [`Client::split`]) and the bytes read so far.
pub struct Client<S = TcpStream> {
    stream: S,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(app: &TestApp) -> Self {
        let stream = TcpStream::connect(app.url.trim_start_matches("http://"))
            .await
            .unwrap();
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, raw: &str) {
        self.stream.write_all(raw.as_bytes()).await.unwrap();
    }

    /// The read side as a client, and the write side to send on meanwhile.
    pub fn split(self) -> (Client<OwnedReadHalf>, OwnedWriteHalf) {
        let (read, write) = self.stream.into_split();
        (
            Client {
                stream: read,
                buf: self.buf,
            },
            write,
        )
    }
}

impl<S: AsyncRead + Unpin> Client<S> {
    pub async fn more(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
            .await
            .expect("answer in time")
            .unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads one answer (content-length or chunked body; none for HEAD when `head` is set).
    pub async fn answer(&mut self, head: bool) -> Answer {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(self.more().await > 0, "connection closed before an answer");
        };
        let text = String::from_utf8(self.buf[..end].to_vec()).unwrap();
        self.buf.drain(..end);
        let mut lines = text.split("\r\n");
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let mut answer = Answer {
            status,
            headers,
            body: Vec::new(),
        };
        if head {
            return answer;
        }
        if let Some(len) = answer.header("content-length") {
            let len: usize = len.parse().unwrap();
            while self.buf.len() < len {
                assert!(self.more().await > 0);
            }
            answer.body = self.buf.drain(..len).collect();
        } else if answer.header("transfer-encoding") == Some("chunked") {
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    assert!(self.more().await > 0);
                };
                let size =
                    usize::from_str_radix(std::str::from_utf8(&self.buf[..line_end]).unwrap(), 16)
                        .unwrap();
                while self.buf.len() < line_end + 2 + size + 2 {
                    assert!(self.more().await > 0);
                }
                answer
                    .body
                    .extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        }
        answer
    }

    /// Whether the gateway closed the connection (after whatever was already buffered).
    pub async fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.more().await == 0
    }
}
