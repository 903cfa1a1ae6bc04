//! The circuit breaker per upstream: consecutive refused connections open it, an open route answers
//! 503 with `Retry-After` at once (to HTTP/1.1 and HTTP/1.0 clients alike), other routes
//! are unaffected, the state shows in `/health` and `/metrics`, and after the open time one probe
//! closes it again when the upstream answers.

use crate::helpers::{spawn_app, upstream};
use crate::raw::Client;
use serde_json::json;
use std::time::{Duration, Instant};

/// Reads `/metrics` as text.
async fn metrics(app: &crate::helpers::TestApp) -> String {
    app.metrics().await
}

#[tokio::test]
async fn refused_connections_open_the_breaker_and_an_open_route_answers_503_at_once() {
    let down = test_support::refused_url();
    let app = spawn_app(&[
        ("PAYMENT_SERVICE_URL", &down),
        ("BREAKER_FAILURES", "2"),
        ("BREAKER_OPEN_MS", "60000"),
        ("HEALTH_REFRESH_MS", "20"),
    ])
    .await;
    // Two refused connections: each a 503 with Retry-After, the second one opening the breaker.
    let (status, headers, body) = app.get_json("/api/payments/1").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(headers["retry-after"], "1", "closed: come back in a second");
    let (status, headers, _) = app.get_json("/api/payments/2").await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "60", "the failure that opened it");
    // Open: answered at once with the time left, to HTTP/1.1 and HTTP/1.0 clients alike.
    let (status, headers, body) = app.get_json("/api/payments/3").await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        json!({"success": false, "error": "Payment service unavailable", "code": "service_unavailable"})
    );
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((59..=60).contains(&wait), "{wait}");
    let mut c = Client::connect(&app).await;
    c.send("GET /api/payments/4 HTTP/1.0\r\nHost: shop\r\n\r\n")
        .await;
    let old = c.answer(false).await;
    assert_eq!(old.status, 503);
    assert!(old.header("retry-after").is_some());
    assert_eq!(old.json()["code"], "service_unavailable");
    // Other routes are unaffected.
    let (status, _, body) = app.get_json("/api/products/1").await;
    assert_eq!(status, 200);
    assert_eq!(body["service"], "products");
    // The state shows in /metrics and /health.
    let text = metrics(&app).await;
    assert!(
        text.contains(
            "gateway_upstream_breaker_state{service=\"api-gateway\",upstream=\"payments\"} 1\n"
        ),
        "{text}"
    );
    assert!(text.contains(
        "gateway_upstream_breaker_state{service=\"api-gateway\",upstream=\"products\"} 0\n"
    ));
    assert!(
        text.contains(
            "gateway_breaker_rejections_total{service=\"api-gateway\",upstream=\"payments\"} 2\n"
        ),
        "{text}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, _, health) = app.get_json("/health").await;
        if health["breakers"]["payments"] == "open" {
            assert_eq!(health["breakers"]["products"], "closed");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/health never showed it: {health}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn after_the_open_time_one_probe_goes_through_and_an_answer_closes_the_breaker() {
    // An address that refuses connections now and answers later.
    let down = test_support::RefusedPort::new();
    let app = spawn_app(&[
        ("ORDER_SERVICE_URL", &down.url),
        ("BREAKER_FAILURES", "1"),
        ("BREAKER_OPEN_MS", "200"),
    ])
    .await;
    let (status, headers, _) = app.get_json("/api/orders/1").await;
    assert_eq!(
        (status.as_u16(), &headers["retry-after"]),
        (503, &"1".parse().unwrap())
    );
    // Open: refused without trying the upstream.
    let (status, _, _) = app.get_json("/api/orders/2").await;
    assert_eq!(status, 503);
    // The service comes up where the gateway expects it.
    let orders = upstream("orders").await;
    let listener = tokio::net::TcpListener::bind(down.release())
        .await
        .expect("the port is free again");
    let target = orders.server.url.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let target = target.clone();
            tokio::spawn(async move {
                let mut up = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
            });
        }
    });
    // After the open time the next request is the probe; its answer closes the breaker.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (status, _, body) = app.get_json("/api/orders/3").await;
    assert_eq!(status, 200);
    assert_eq!(body["path"], "/api/orders/3");
    let (status, _, _) = app.get_json("/api/orders/4").await;
    assert_eq!(status, 200);
    assert!(metrics(&app).await.contains(
        "gateway_upstream_breaker_state{service=\"api-gateway\",upstream=\"orders\"} 0\n"
    ));
    assert_eq!(orders.hits(), 2);
}

#[tokio::test]
async fn timeouts_count_as_failures_and_breakers_can_be_turned_off() {
    let app = spawn_app(&[
        ("UPSTREAM_TIMEOUT_MS", "200"),
        ("BREAKER_FAILURES", "1"),
        ("BREAKER_OPEN_MS", "60000"),
    ])
    .await;
    let (status, _, _) = app.get_json("/api/products/stall").await;
    assert_eq!(status, 504);
    let before = app.products.hits();
    let (status, headers, _) = app.get_json("/api/products/1").await;
    assert_eq!(status, 503, "open after the timeout");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(
        app.products.hits(),
        before,
        "an open route does not reach the upstream"
    );
    // BREAKER_FAILURES=0: every request goes through, however many fail.
    let app = spawn_app(&[("UPSTREAM_TIMEOUT_MS", "200"), ("BREAKER_FAILURES", "0")]).await;
    for _ in 0..3 {
        assert_eq!(app.get_json("/api/products/stall").await.0, 504);
    }
    assert_eq!(app.get_json("/api/products/1").await.0, 200);
}
