//! The upstream client against raw, scripted upstreams: response framings (chunked, close-delimited,
//! no body), connection reuse and its limits, stale pooled connections, early answers, bad answers.

use crate::helpers::spawn_app;
use crate::raw::{raw_upstream, Wire};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Answers every request on a connection with `answer` (given the request head).
async fn serve_each(mut wire: Wire, answer: impl Fn(&str) -> Vec<u8>) {
    while let Some((head, _)) = wire.request().await {
        let raw = answer(&head);
        wire.send(&raw).await;
    }
}

async fn get(app: &crate::helpers::TestApp, path: &str) -> (u16, String) {
    let res = app
        .client
        .get(app.at(path))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn chunked_answers_with_extensions_and_trailers_are_relayed_and_the_connection_reused() {
    let (url, conns) = raw_upstream(|_, wire| {
        serve_each(wire, |_| {
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n\
              5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-checksum: 9\r\n\r\n"
                .to_vec()
        })
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    for _ in 0..3 {
        assert_eq!(
            get(&app, "/api/products/c").await,
            (200, "hello, world".into())
        );
    }
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_close_delimited_answer_is_relayed_whole_and_its_connection_not_reused() {
    let (url, conns) = raw_upstream(|_, mut wire| async move {
        if wire.request().await.is_some() {
            wire.send(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end")
                .await;
        }
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    for _ in 0..2 {
        assert_eq!(
            get(&app, "/api/products/old").await,
            (200, "until the end".into())
        );
    }
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connection_close_from_the_upstream_is_respected() {
    let (url, conns) = raw_upstream(|_, wire| {
        serve_each(wire, |_| {
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok".to_vec()
        })
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    for _ in 0..2 {
        assert_eq!(get(&app, "/api/products/x").await, (200, "ok".into()));
    }
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn head_204_304_and_informational_answers_carry_no_body_and_keep_the_connection() {
    let (url, conns) = raw_upstream(|_, wire| {
        serve_each(wire, |head| {
            let path = head.split(' ').nth(1).unwrap_or_default();
            match path {
                "/api/products/empty" => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
                "/api/products/same" => {
                    b"HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\n\r\n".to_vec()
                }
                "/api/products/hinted" => b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n\
                      HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfinal"
                    .to_vec(),
                // HEAD: the length of the body a GET would get, and no body.
                _ => b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n".to_vec(),
            }
        })
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    let res = app
        .client
        .head(app.at("/api/products/p"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], "42");
    assert_eq!(get(&app, "/api/products/empty").await, (204, String::new()));
    assert_eq!(get(&app, "/api/products/same").await, (304, String::new()));
    assert_eq!(
        get(&app, "/api/products/hinted").await,
        (200, "final".into())
    );
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_pooled_connection_closed_under_a_request_is_retried_only_when_nothing_was_sent_but_a_head(
) {
    // Every connection answers its first request, then closes on the second without answering
    // (the upstream dropping an idle keep-alive connection just as it is reused).
    let (url, conns) = raw_upstream(|_, mut wire| async move {
        if let Some((_, body)) = wire.request().await {
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{}",
                4 + body.len(),
                format_args!("got {}", String::from_utf8_lossy(&body))
            );
            wire.send(answer.as_bytes()).await;
        }
        let _ = wire.request().await;
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    assert_eq!(get(&app, "/api/products/1").await, (200, "got ".into()));
    // A GET goes out again on a fresh connection.
    assert_eq!(get(&app, "/api/products/2").await, (200, "got ".into()));
    assert_eq!(conns.load(Ordering::SeqCst), 2);
    // A POST with a body is not repeated: 502, and the upstream saw it once.
    let res = app
        .client
        .post(app.at("/api/products/3"))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "upstream_error");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_answer_given_before_the_request_body_was_read_reaches_the_client() {
    let (url, _) = raw_upstream(|_, mut wire| async move {
        // Read only the head, refuse at once, and close.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if wire.stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        wire.send(
            b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-type: application/json\r\n\
              content-length: 17\r\n\r\n{\"success\":false}",
        )
        .await;
        // Dropped at once with the body unread: a reset, which must not lose the answer.
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    let res = app
        .client
        .post(app.at("/api/products"))
        .body(vec![b'x'; 8 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(res.text().await.unwrap(), r#"{"success":false}"#);
}

#[tokio::test]
async fn malformed_or_cut_answers_are_502_or_an_aborted_body_never_a_hang() {
    let (url, _) = raw_upstream(|_, mut wire| async move {
        if let Some((head, _)) = wire.request().await {
            if head.contains("/garbage") {
                wire.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
            } else if head.contains("/two-lengths") {
                wire.send(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd")
                    .await;
            } else {
                wire.send(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf")
                    .await;
            }
        }
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    for path in ["/api/products/garbage", "/api/products/two-lengths"] {
        let (status, body) = get(&app, path).await;
        assert_eq!(status, 502, "{path}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], "upstream_error");
    }
    // The head may already be on its way when the body breaks: the client then sees the
    // connection end early (before or after the head), never a complete-looking answer.
    let cut = app
        .client
        .get(app.at("/api/products/cut"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match cut {
        Err(e) => assert!(!e.is_timeout(), "{e}"),
        Ok(res) => {
            assert_eq!(res.status(), 200);
            let body = res.bytes().await;
            assert!(body.is_err(), "a cut body must not look complete");
            assert!(!body.unwrap_err().is_timeout());
        }
    }
}

#[tokio::test]
async fn a_chunked_request_body_is_re_chunked_and_a_sized_one_keeps_its_length() {
    let (url, _) = raw_upstream(|_, mut wire| async move {
        // Echo the request head back as the body, plus what followed it.
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        while !raw.windows(5).any(|w| w == b"0\r\n\r\n") && !raw.ends_with(b"sized") {
            let n = wire.stream.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            raw.len()
        );
        wire.send(&[answer.as_bytes(), &raw].concat()).await;
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    let pieces = futures_util::stream::iter(["ab", "cde"].map(Ok::<_, std::io::Error>));
    let seen = app
        .client
        .post(app.at("/api/products/stream"))
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .to_ascii_lowercase();
    assert!(seen.contains("transfer-encoding: chunked\r\n"), "{seen}");
    assert!(!seen.contains("content-length"), "{seen}");
    assert!(
        seen.ends_with("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"),
        "{seen}"
    );
    let seen = app
        .client
        .post(app.at("/api/products/sized"))
        .body("sized")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .to_ascii_lowercase();
    assert!(seen.contains("content-length: 5\r\n"), "{seen}");
    assert!(seen.ends_with("\r\n\r\nsized"), "{seen}");
}

#[tokio::test]
async fn the_upstreams_own_security_headers_win_and_hop_by_hop_ones_stay_behind() {
    let (url, _) = raw_upstream(|_, wire| {
        serve_each(wire, |_| {
            b"HTTP/1.1 200 OK\r\nX-Frame-Options: DENY\r\nconnection: x-secret\r\nx-secret: 1\r\n\
              x-request-id: upstream-id\r\naccess-control-allow-origin: https://other.example\r\n\
              keep-alive: timeout=5\r\ncontent-length: 2\r\n\r\nok"
                .to_vec()
        })
    })
    .await;
    let app = spawn_app(&[("PRODUCT_SERVICE_URL", &url)]).await;
    for _ in 0..2 {
        let res = app
            .client
            .get(app.at("/api/products/h"))
            .header("x-request-id", "client-7")
            .send()
            .await
            .unwrap();
        let h = res.headers();
        assert_eq!(h.get_all("x-frame-options").iter().count(), 1);
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.get("x-secret").is_none());
        assert!(h.get("keep-alive").is_none());
        assert_eq!(h["x-request-id"], "client-7");
        assert_eq!(h["access-control-allow-origin"], "*");
        // The upstream sent no Date: the gateway adds one.
        assert!(httpdate::parse_http_date(h["date"].to_str().unwrap()).is_ok());
        assert_eq!(res.text().await.unwrap(), "ok");
    }
}
