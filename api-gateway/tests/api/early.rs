//! Answers given before the request body was all sent. A service refusing a body too large for it
//! answers 413 after reading part of it and closes with the rest unread, so its kernel resets the
//! connection under the gateway's upload. The client must get that answer every time, whether its
//! body is framed by `Content-Length` or chunked, and must be able to finish
//! sending and see the connection end cleanly rather than be reset.

use crate::helpers::spawn_app;
use crate::raw::{raw_upstream, Client};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;

const REFUSAL: &[u8] = br#"{"success":false,"code":"payload_too_large"}"#;
/// More than the sockets between client and gateway take in unread, so a client is still sending
/// when the gateway is done answering (and within what the gateway's lingering close drains).
const BODY: usize = 8 * 1024 * 1024;
/// How much of the body the upstream reads before refusing it.
const READ_BEFORE_REFUSING: usize = 64 * 1024;
/// The 502 came from a race (about 3 tries in 8 against the services): enough rounds each way
/// that a lucky pass is out of the question.
const ROUNDS: usize = 20;

/// Sends the body whatever comes back meanwhile, like a client that reads only once it is done.
async fn upload(mut to: OwnedWriteHalf, body: Bytes, chunked: bool) -> std::io::Result<()> {
    if !chunked {
        return to.write_all(&body).await;
    }
    for piece in body.chunks(64 * 1024) {
        to.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await?;
        to.write_all(piece).await?;
        to.write_all(b"\r\n").await?;
    }
    to.write_all(b"0\r\n\r\n").await
}

#[tokio::test]
async fn a_413_given_mid_body_reaches_the_client_every_time_and_the_connection_ends_cleanly() {
    let (url, _) = raw_upstream(|_, mut wire| async move {
        // The head and the first part of the body, then the refusal, then the socket is dropped
        // with the rest of the body unread (which makes it a reset).
        let mut seen = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let head_end = seen.windows(4).position(|w| w == b"\r\n\r\n");
            if head_end.is_some_and(|end| seen.len() >= end + 4 + READ_BEFORE_REFUSING) {
                break;
            }
            match wire.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
        let head = format!(
            "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            REFUSAL.len()
        );
        wire.send(&[head.as_bytes(), REFUSAL].concat()).await;
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    let body = Bytes::from(vec![b'x'; BODY]);
    for round in 0..ROUNDS {
        for chunked in [false, true] {
            let framing = if chunked {
                "transfer-encoding: chunked".to_string()
            } else {
                format!("content-length: {BODY}")
            };
            let mut c = Client::connect(&app).await;
            c.send(&format!(
                "POST /api/products HTTP/1.1\r\nHost: shop\r\ncontent-type: application/json\r\n{framing}\r\n\r\n"
            ))
            .await;
            let (mut c, to) = c.split();
            let sent = tokio::spawn(upload(to, body.clone(), chunked));
            let answer = c.answer(false).await;
            let what = format!("{framing}, round {round}");
            assert_eq!(
                answer.status,
                413,
                "{what}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            assert_eq!(answer.body, REFUSAL, "{what}");
            assert_eq!(answer.header("connection"), Some("close"), "{what}");
            // The gateway took in the rest of the body instead of resetting the connection under
            // it, and ended the connection after the answer.
            let sent = sent.await.unwrap();
            assert!(sent.is_ok(), "{what}: the upload was cut off: {sent:?}");
            assert!(c.closed().await, "{what}");
        }
    }
}
