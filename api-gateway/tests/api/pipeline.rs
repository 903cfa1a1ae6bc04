//! The gateway's one pipeline, spoken to over raw TCP: keep-alive, pipelining, local routes
//! mid-connection, `Connection: close`, errors on requests with bodies, HEAD, chunked request
//! bodies, `Expect: 100-continue`, HTTP/1.0, refused heads, preflights, and the answer headers it
//! writes itself (security set, CORS, request id) next to the upstream's.

use crate::helpers::spawn_app;
use crate::raw::Client;
use std::time::Duration;

#[tokio::test]
async fn keep_alive_pipelining_and_local_routes_mid_connection() {
    let app = spawn_app(&[]).await;
    let mut c = Client::connect(&app).await;
    // Two pipelined requests in one write, answered in order on the same connection.
    c.send("GET /api/products/a HTTP/1.1\r\nHost: shop\r\n\r\nGET /api/orders/b?x=1 HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    let a = c.answer(false).await;
    let b = c.answer(false).await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.json()["path"], "/api/products/a");
    assert_eq!(b.json()["service"], "orders");
    assert_eq!(b.json()["query"], "x=1");
    // A local route on the same connection, then proxied requests again.
    c.send("GET /health HTTP/1.1\r\nHost: shop\r\n\r\n").await;
    let health = c.answer(false).await;
    assert_eq!(health.status, 200);
    assert!(health.json()["services"].is_object(), "{:?}", health.json());
    c.send("GET /api/products/c HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    let after = c.answer(false).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.json()["path"], "/api/products/c");
    assert_eq!(after.header("x-frame-options"), Some("SAMEORIGIN"));
    assert_eq!(after.count("content-security-policy"), 1);
    assert!(after.header("x-request-id").is_some());
    assert_eq!(after.header("access-control-allow-origin"), Some("*"));
    assert_eq!(after.header("ratelimit-limit"), Some("1000"));
    // A POST with its body in the same write, then one whose body comes later.
    let mut c = Client::connect(&app).await;
    c.send("POST /api/products HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"n\": 1}\n")
        .await;
    let posted = c.answer(false).await;
    assert_eq!(posted.json()["body"], "{\"n\": 1}\n");
    assert_eq!(posted.json()["headers"]["content-length"], "9");
    let before = app.products.hits();
    c.send("PUT /api/products/9 HTTP/1.1\r\nHost: shop\r\nContent-Length: 11\r\n\r\nhello")
        .await;
    // The head is upstream before the rest of the body is even sent: it streams.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while app.products.hits() == before {
        assert!(std::time::Instant::now() < deadline, "head never forwarded");
        tokio::task::yield_now().await;
    }
    c.send(" wor").await;
    c.send("ld").await;
    let put = c.answer(false).await;
    assert_eq!(put.json()["body"], "hello world");
    assert_eq!(put.json()["method"], "PUT");
}

#[tokio::test]
async fn connection_close_errors_with_bodies_and_head_answers() {
    let app = spawn_app(&[]).await;
    let mut c = Client::connect(&app).await;
    c.send("GET /api/products/x HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        .await;
    let a = c.answer(false).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("connection"), Some("close"));
    assert!(c.closed().await);

    // Refused with the body in hand: it is skipped and the connection carries on.
    let mut c = Client::connect(&app).await;
    c.send("POST /api/orders HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer nope\r\nContent-Length: 4\r\n\r\nbodyGET /api/orders/n HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    let refused = c.answer(false).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["code"], "token_invalid");
    assert!(refused.header("connection").is_none());
    assert_eq!(refused.header("x-frame-options"), Some("SAMEORIGIN"));
    assert!(refused.header("x-request-id").is_some());
    let next = c.answer(false).await;
    assert_eq!(next.json()["path"], "/api/orders/n");
    assert_eq!(app.orders.hits(), 1);

    // Refused before the rest of the body arrived: the answer closes the connection.
    let mut c = Client::connect(&app).await;
    c.send("POST /api/orders HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer nope\r\nContent-Length: 40\r\n\r\nbody")
        .await;
    let refused = c.answer(false).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("connection"), Some("close"));
    assert!(c.closed().await);
    assert_eq!(app.orders.hits(), 1);

    // HEAD: headers only, for an answer and for an error alike; the connection stays usable.
    let mut c = Client::connect(&app).await;
    c.send("HEAD /api/products/x HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    let head = c.answer(true).await;
    assert_eq!(head.status, 200);
    c.send("HEAD /api/orders HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer nope\r\n\r\n")
        .await;
    let head = c.answer(true).await;
    assert_eq!(head.status, 401);
    assert!(head.header("content-length").is_some());
    c.send("GET /api/products/y HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    assert_eq!(c.answer(false).await.json()["path"], "/api/products/y");
}

#[tokio::test]
async fn answer_headers_combine_the_upstreams_with_the_gateways_own() {
    let app = spawn_app(&[("ALLOWED_ORIGINS", "https://shop.example")]).await;
    let mut c = Client::connect(&app).await;
    c.send("GET /api/products/x HTTP/1.1\r\nHost: shop\r\nOrigin: https://shop.example\r\nX-Request-Id: mine-1\r\n\r\n")
        .await;
    let a = c.answer(false).await;
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert_eq!(a.header("vary"), Some("origin"));
    assert!(a
        .header("access-control-expose-headers")
        .unwrap()
        .contains("ratelimit-remaining"));
    assert_eq!(a.header("x-request-id"), Some("mine-1"));
    assert_eq!(a.json()["headers"]["x-request-id"], "mine-1");
    assert_eq!(a.header("ratelimit-limit"), Some("1000"));
    assert_eq!(a.count("x-frame-options"), 1);
    assert_eq!(a.count("content-security-policy"), 1);
    c.send("GET /api/products/x HTTP/1.1\r\nHost: shop\r\nOrigin: https://evil.example\r\n\r\n")
        .await;
    let evil = c.answer(false).await;
    assert!(evil.header("access-control-allow-origin").is_none());
    assert_eq!(evil.header("ratelimit-remaining"), Some("998"));
}

#[tokio::test]
async fn expect_continue_large_heads_and_refused_heads() {
    let app = spawn_app(&[]).await;
    // Expect: 100-continue: asked for the body once admitted, then proxied.
    let mut c = Client::connect(&app).await;
    c.send("POST /api/products HTTP/1.1\r\nHost: shop\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        .await;
    let go_on = c.answer(true).await;
    assert_eq!(go_on.status, 100);
    c.send("{}").await;
    let posted = c.answer(false).await;
    assert_eq!(posted.status, 200);
    assert_eq!(posted.json()["body"], "{}");
    assert!(posted.json()["headers"].get("expect").is_none());
    // Refused before admission: no 100, the final answer, and the connection ends (the body
    // was never sent).
    let mut c = Client::connect(&app).await;
    c.send("POST /api/orders HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer nope\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        .await;
    let refused = c.answer(false).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("connection"), Some("close"));
    // An expectation the gateway cannot meet.
    let mut c = Client::connect(&app).await;
    c.send("POST /api/products HTTP/1.1\r\nHost: shop\r\nContent-Length: 2\r\nExpect: teapot\r\n\r\n{}")
        .await;
    let refused = c.answer(false).await;
    assert_eq!(refused.status, 417);
    assert_eq!(refused.json()["code"], "expectation_failed");

    // A large head (up to 64 KiB) is proxied.
    let mut c = Client::connect(&app).await;
    let big = "v".repeat(40 * 1024);
    c.send(&format!(
        "GET /api/products/big-head HTTP/1.1\r\nHost: shop\r\nX-Big: {big}\r\n\r\n"
    ))
    .await;
    let answer = c.answer(false).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json()["headers"]["x-big"].as_str().unwrap().len(),
        big.len()
    );
    // Larger: 431, JSON, and the connection closed.
    let mut c = Client::connect(&app).await;
    let huge = "v".repeat(70 * 1024);
    c.send(&format!(
        "GET /api/products/huge-head HTTP/1.1\r\nHost: shop\r\nX-Big: {huge}\r\n\r\n"
    ))
    .await;
    let refused = c.answer(false).await;
    assert_eq!(refused.status, 431);
    assert_eq!(refused.json()["code"], "headers_too_large");
    assert!(c.closed().await);

    // Garbage, or no Host: a JSON 400 with the gateway's headers, and the connection closed.
    for bad in [
        "GET /api/products/x HTTP/1.1\r\nHost: shop\r\nBad Header: x\r\n\r\n",
        "GET /api/products/x HTTP/1.1\r\n\r\n",
        "GET /api/products/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let mut c = Client::connect(&app).await;
        c.send(bad).await;
        let refused = c.answer(false).await;
        assert_eq!(refused.status, 400, "{bad:?}");
        assert_eq!(refused.json()["code"], "bad_request");
        assert_eq!(refused.header("x-frame-options"), Some("SAMEORIGIN"));
        assert!(refused.header("x-request-id").is_some());
        assert_eq!(refused.header("connection"), Some("close"));
        assert!(c.closed().await);
    }
    assert_eq!(app.products.hits(), 2);
    // Refused heads are counted, under no route.
    let mut c = Client::connect(&app).await;
    c.send(&format!(
        "GET /metrics HTTP/1.1\r\nHost: shop\r\nx-internal-token: {}\r\n\r\n",
        test_support::INTERNAL_TOKEN
    ))
    .await;
    let metrics = c.answer(false).await;
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(
        text.contains(r#"method="OTHER",route="unmatched",status="400"} 3"#),
        "{text}"
    );
}

#[tokio::test]
async fn chunked_request_bodies_are_decoded_and_forwarded() {
    let app = spawn_app(&[]).await;
    let mut c = Client::connect(&app).await;
    // In one write with the next request, then one whose chunks come later, with extensions
    // and trailers.
    c.send("POST /api/products HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /api/products/next HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    let posted = c.answer(false).await;
    assert_eq!(posted.status, 200);
    assert_eq!(posted.json()["body"], "hello world");
    assert_eq!(posted.json()["headers"]["transfer-encoding"], "chunked");
    assert_eq!(c.answer(false).await.json()["path"], "/api/products/next");
    c.send("PUT /api/products/1 HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n")
        .await;
    c.send("2 ; q=\"x y\"\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
        .await;
    let put = c.answer(false).await;
    assert_eq!(put.json()["body"], "abcde");
    assert!(put.header("connection").is_none());
    // A malformed chunk mid-body: 400, the connection closed, nothing after it read.
    c.send("POST /api/products HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n\r\nGET /api/products/smuggled HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    let refused = c.answer(false).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["code"], "invalid_body");
    assert!(c.closed().await);
}

#[tokio::test]
async fn http_1_0_clients_with_and_without_keep_alive() {
    let app = spawn_app(&[]).await;
    // Without keep-alive: answered, and closed.
    let mut c = Client::connect(&app).await;
    c.send("GET /api/products/a HTTP/1.0\r\n\r\n").await;
    let a = c.answer(false).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["path"], "/api/products/a");
    assert!(c.closed().await);
    // With keep-alive: told so, and the connection carries the next request, local ones too.
    let mut c = Client::connect(&app).await;
    c.send("GET /api/products/b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let b = c.answer(false).await;
    assert_eq!(b.header("connection"), Some("keep-alive"));
    c.send("POST /api/products HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}")
        .await;
    let posted = c.answer(false).await;
    assert_eq!(posted.json()["body"], "{}");
    assert_eq!(posted.header("connection"), Some("keep-alive"));
    c.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let health = c.answer(false).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.header("connection"), Some("keep-alive"));
    c.send("GET /api/products/c HTTP/1.0\r\n\r\n").await;
    assert_eq!(c.answer(false).await.json()["path"], "/api/products/c");
    assert!(c.closed().await);
}

#[tokio::test]
async fn request_targets_with_bytes_that_must_be_escaped_are_refused_at_the_gateway() {
    let app = spawn_app(&[]).await;
    let bad = [
        "/api/products/\"x",
        "/api/products/<x>",
        "/api/products/x\\y",
        "/api/products/x^y",
        "/api/products/`x",
        "/api/products/{x}",
        "/api/products/x|y",
        "/api/products?q=\"x\"",
        "/api/products/caf\u{e9}",
    ];
    for target in bad {
        for version in ["1.1", "1.0"] {
            let mut c = Client::connect(&app).await;
            c.send(&format!(
                "GET {target} HTTP/{version}\r\nHost: shop\r\n\r\n"
            ))
            .await;
            let refused = c.answer(false).await;
            assert_eq!(refused.status, 400, "{target} over HTTP/{version}");
            assert_eq!(refused.json()["code"], "invalid_target", "{target}");
            assert!(refused.header("x-request-id").is_some());
        }
    }
    assert_eq!(app.products.hits(), 0, "nothing reached the upstream");
    // The gateway's own routes too.
    let mut c = Client::connect(&app).await;
    c.send("GET /health?x=<y> HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    assert_eq!(c.answer(false).await.json()["code"], "invalid_target");
    // After other requests on the same connection too.
    let mut c = Client::connect(&app).await;
    c.send("GET /health HTTP/1.1\r\nHost: shop\r\n\r\n").await;
    assert_eq!(c.answer(false).await.status, 200);
    c.send("GET /api/products/\"x HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await;
    let refused = c.answer(false).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["code"], "invalid_target");
    assert_eq!(app.products.hits(), 0);
    // The same bytes percent-encoded go through.
    let (status, _, body) = app.get_json("/api/products/%22x%7C%5E").await;
    assert_eq!(status, 200);
    assert_eq!(body["path"], "/api/products/%22x%7C%5E");
}

/// The headers of `answer` but the ones that differ per request, sorted.
fn stable_headers(answer: &crate::raw::Answer) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = answer
        .headers
        .iter()
        .filter(|(n, _)| n != "date" && n != "x-request-id")
        .cloned()
        .collect();
    headers.sort();
    headers
}

#[tokio::test]
async fn preflights_to_proxied_paths_are_answered_as_tower_http_answers_them() {
    for origins in ["", "https://shop.example"] {
        let app = spawn_app(&[("ALLOWED_ORIGINS", origins)]).await;
        let preflights = [
            "OPTIONS /api/products HTTP/1.1\r\nHost: shop\r\nOrigin: https://shop.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, authorization\r\n\r\n",
            "OPTIONS /api/orders/1 HTTP/1.1\r\nHost: shop\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
            "OPTIONS /api/auth/login HTTP/1.1\r\nHost: shop\r\nAccess-Control-Request-Method: POST\r\nX-Request-Id: client-7\r\n\r\n",
        ];
        for preflight in preflights {
            // Answered by the gateway, and the next request on the connection is served too.
            let mut looped = Client::connect(&app).await;
            looped.send(preflight).await;
            let ours = looped.answer(false).await;
            looped
                .send("GET /api/products/after HTTP/1.1\r\nHost: shop\r\n\r\n")
                .await;
            assert_eq!(
                looped.answer(false).await.json()["path"],
                "/api/products/after"
            );
            // The same preflight to a local route: tower-http's answer (the services' CORS).
            let mut local = Client::connect(&app).await;
            let path = preflight.split(' ').nth(1).unwrap();
            local
                .send(&preflight.replacen(path, "/no-such-route", 1))
                .await;
            let theirs = local.answer(false).await;
            assert_eq!(ours.status, theirs.status, "{origins:?} {preflight}");
            assert_eq!(
                stable_headers(&ours),
                stable_headers(&theirs),
                "{origins:?} {preflight}"
            );
            assert_eq!(
                ours.header("x-request-id").is_some(),
                theirs.header("x-request-id").is_some()
            );
            if preflight.contains("client-7") {
                assert_eq!(ours.header("x-request-id"), theirs.header("x-request-id"));
            }
        }
        let upstreams = app.auth.hits() + app.orders.hits();
        assert_eq!(upstreams, 0, "preflights never reach a service");
    }
}
