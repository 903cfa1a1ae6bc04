//! The proxy path: routing, bodies, forwarded headers, upstream failures, drain.

use crate::helpers::spawn_app;
use futures_util::stream;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn path_and_query_are_forwarded_unchanged_to_the_right_service() {
    let app = spawn_app(&[]).await;
    let cases = [
        ("/api/auth/verify?x=1", "auth"),
        ("/api/products?page=2&search=a%20b&sort=-price", "products"),
        (
            "/api/orders/64b7f0c2a1b2c3d4e5f60718/cancel?y=%2F",
            "orders",
        ),
        ("/api/payments", "payments"),
    ];
    for (path, service) in cases {
        let (status, _, body) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["service"], service, "{path}");
        let (p, q) = path.split_once('?').unwrap_or((path, ""));
        assert_eq!(body["path"], p);
        assert_eq!(
            body["query"],
            if q.is_empty() { Value::Null } else { json!(q) }
        );
    }
}

#[tokio::test]
async fn a_posted_json_body_reaches_the_upstream_intact() {
    let app = spawn_app(&[]).await;
    let sent = json!({"email": "user@example.com", "password": "securepass123", "name": "Ünï"});
    let res = app
        .client
        .post(app.at("/api/products/bulk"))
        .json(&sent)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["method"], "POST");
    let received: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(received, sent);
    assert_eq!(body["headers"]["content-type"], "application/json");
}

#[tokio::test]
async fn a_large_chunked_request_body_streams_through_to_the_upstream() {
    let app = spawn_app(&[]).await;
    let chunk = bytes::Bytes::from(vec![b'a'; 64 * 1024]);
    let chunks = stream::iter((0..80).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let res = app
        .client
        .put(app.at("/api/orders/upload"))
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["bodyLen"], 80 * 64 * 1024);
}

#[tokio::test]
async fn a_large_response_body_streams_back_unchanged() {
    let app = spawn_app(&[]).await;
    let res = app
        .client
        .get(app.at("/api/products/big"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len(), 3 * 1024 * 1024);
    assert!(bytes.iter().all(|b| *b == b'x'));
}

#[tokio::test]
async fn compressed_upstream_answers_pass_through_without_recompression() {
    let app = spawn_app(&[]).await;
    let res = app
        .client
        .get(app.at("/api/products/gzipped"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.bytes().await.unwrap().as_ref(), &[0x1f, 0x8b, 1, 2, 3]);
    let (_, _, echoed) = app.get_json("/api/products/echo").await;
    assert!(echoed["headers"].get("accept-encoding").is_none());
    let res = app
        .client
        .get(app.at("/api/products/echo"))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    let echoed: Value = res.json().await.unwrap();
    assert_eq!(echoed["headers"]["accept-encoding"], "br");
}

#[tokio::test]
async fn forwarded_for_is_appended_and_the_request_id_is_generated_and_echoed() {
    let app = spawn_app(&[]).await;
    let res = app
        .client
        .get(app.at("/api/products/1"))
        .header("x-forwarded-for", "198.51.100.1")
        .header("connection", "x-hop")
        .header("x-hop", "secret")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    let seen = &body["headers"];
    assert_eq!(seen["x-forwarded-for"], "198.51.100.1, 127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert!(seen["x-forwarded-host"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(seen["x-request-id"], id.as_str());
    assert_eq!(id.len(), 36);
    assert!(seen.get("x-hop").is_none());
    let host = app.products.server.url.trim_start_matches("http://");
    assert_eq!(seen["host"], host);

    let res = app
        .client
        .get(app.at("/api/products/1"))
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-chosen-42");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["headers"]["x-request-id"], "client-chosen-42");
}

#[tokio::test]
async fn an_unreachable_upstream_gives_503_naming_the_service() {
    let down = test_support::refused_url();
    let app = spawn_app(&[("ORDER_SERVICE_URL", &down), ("PAYMENT_SERVICE_URL", &down)]).await;
    for (path, name) in [("/api/orders", "Order"), ("/api/payments/x", "Payment")] {
        let (status, headers, body) = app.get_json(path).await;
        assert_eq!(status, 503);
        assert_eq!(
            body,
            json!({"success": false, "error": format!("{name} service unavailable"), "code": "service_unavailable"})
        );
        assert!(headers.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn a_slow_upstream_gives_504_after_the_upstream_timeout() {
    let app = spawn_app(&[("UPSTREAM_TIMEOUT_MS", "200")]).await;
    let started = std::time::Instant::now();
    let (status, _, body) = app.get_json("/api/products/stall").await;
    assert_eq!(status, 504);
    assert_eq!(body["code"], "upstream_timeout");
    assert_eq!(body["error"], "Product service timed out");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn unknown_routes_internal_calls_and_events_get_the_json_404() {
    let app = spawn_app(&[]).await;
    for path in [
        "/api/unknown",
        "/internal/orders/x",
        "/events",
        "/api/authx",
        "/api/dev",
        "/",
    ] {
        let (status, _, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], "route_not_found", "{path}");
    }
    let res = app
        .client
        .post(app.at("/events"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let total = app.auth.hits() + app.products.hits() + app.orders.hits() + app.payments.hits();
    assert_eq!(total, 0);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_then_run_returns() {
    let mut app = spawn_app(&[]).await;
    let slow = tokio::spawn({
        let (client, url) = (app.client.clone(), app.at("/api/products/slow"));
        async move { client.get(url).send().await.unwrap().status() }
    });
    // Wait until the request has reached the upstream, then shut down.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while app.products.hits() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "request never arrived"
        );
        tokio::task::yield_now().await;
    }
    app.shutdown.cancel();
    assert_eq!(slow.await.unwrap(), 200);
    let handle = app.handle.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("run returned")
        .unwrap()
        .unwrap();
    assert!(app.client.get(app.at("/health")).send().await.is_err());
}

#[tokio::test]
async fn upstream_connections_are_reused_across_requests() {
    let app = spawn_app(&[]).await;
    let mut peers = std::collections::HashSet::new();
    for i in 0..20 {
        let res = if i % 2 == 0 {
            app.client
                .get(app.at("/api/products/x"))
                .send()
                .await
                .unwrap()
        } else {
            app.client
                .post(app.at("/api/products/x"))
                .json(&json!({"n": i}))
                .send()
                .await
                .unwrap()
        };
        let body: Value = res.json().await.unwrap();
        peers.insert(body["peer"].as_str().unwrap().to_string());
    }
    assert_eq!(
        peers.len(),
        1,
        "one keep-alive upstream connection: {peers:?}"
    );
}

#[tokio::test]
async fn an_http_1_0_client_is_proxied_over_a_reused_http_1_1_upstream_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(&[]).await;
    let mut peers = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(app.url.trim_start_matches("http://"))
            .await
            .unwrap();
        stream
            .write_all(b"GET /api/products/old HTTP/1.0\r\nHost: shop\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
            "{text}"
        );
        let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["path"], "/api/products/old");
        peers.push(body["peer"].as_str().unwrap().to_string());
    }
    assert_eq!(peers[0], peers[1]);
}
