//! The gateway's own routes: health aggregation, readiness and the developer tools.

use crate::helpers::{spawn_app, TestApp};
use serde_json::{json, Value};

/// Polls `/health` (refreshed in the background) until `done` holds.
async fn health_when(app: &TestApp, done: impl Fn(&Value) -> bool) -> (u16, Value) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, _, body) = app.get_json("/health").await;
        if done(&body) || std::time::Instant::now() > end {
            return (status.as_u16(), body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn health_is_healthy_when_every_upstream_answers() {
    let app = spawn_app(&[("HEALTH_REFRESH_MS", "20")]).await;
    let (status, body) = health_when(&app, |b| b["status"] == "healthy").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "status": "healthy",
            "service": "api-gateway",
            "services": {"auth": "up", "products": "up", "orders": "up", "payments": "up", "eventBus": "up"},
            "breakers": {"auth": "closed", "products": "closed", "orders": "closed", "payments": "closed"},
            "redis": "not configured",
        })
    );
    let (status, _, body) = app.get_json("/ready").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn health_is_degraded_and_not_ready_when_an_upstream_is_down() {
    let down = test_support::refused_url();
    let app = spawn_app(&[("PAYMENT_SERVICE_URL", &down), ("HEALTH_REFRESH_MS", "20")]).await;
    let (status, body) = health_when(&app, |b| b["services"]["auth"] == "up").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["services"]["payments"], "down");
    assert_eq!(body["services"]["auth"], "up");
    let (status, _, body) = app.get_json("/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "service_unavailable");
}

#[tokio::test]
async fn health_and_ready_never_call_the_upstreams_themselves() {
    // The background refresh runs once a minute here: none happens during the test.
    let app = spawn_app(&[("HEALTH_REFRESH_MS", "60000")]).await;
    for _ in 0..20 {
        // Until the first check every upstream counts as down: not ready.
        let (status, _, body) = app.get_json("/health").await;
        assert_eq!(
            (status.as_u16(), &body["status"]),
            (200, &json!("degraded"))
        );
        assert_eq!(app.get_json("/ready").await.0, 503);
    }
    let upstreams = [
        &app.auth,
        &app.products,
        &app.orders,
        &app.payments,
        &app.bus,
    ];
    assert_eq!(upstreams.map(super::helpers::Upstream::hits), [0; 5]);
}

#[tokio::test]
async fn dev_tools_encrypt_and_decrypt_round_trip() {
    let app = spawn_app(&[]).await;
    let payload = json!({"email": "user@example.com", "password": "securepass123"});
    let res = app
        .client
        .post(app.at("/api/dev/encrypt"))
        .json(&json!({"payload": payload}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert!(body["usage"].as_str().unwrap().contains("encrypted"));
    let encrypted = body["encrypted"].as_str().unwrap().to_string();
    assert_eq!(
        encrypted.split(':').count(),
        3,
        "authenticated form by default"
    );

    let res = app
        .client
        .post(app.at("/api/dev/decrypt"))
        .json(&json!({"encrypted": encrypted}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"success": true, "decrypted": payload}));

    let res = app
        .client
        .post(app.at("/api/dev/encrypt"))
        .json(&json!({"payload": "text", "legacy": true}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["encrypted"].as_str().unwrap().split(':').count(), 2);
}

#[tokio::test]
async fn the_original_test_vector_decrypts() {
    let app = spawn_app(&[]).await;
    let vector = "000102030405060708090a0b0c0d0e0f:f736615cba530a608c0b28b94de5552c";
    let res = app
        .client
        .post(app.at("/api/dev/decrypt"))
        .json(&json!({"encrypted": vector}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"success": true, "decrypted": {}}));
}

#[tokio::test]
async fn dev_tool_failures_are_400_json() {
    let app = spawn_app(&[]).await;
    // Each route answers every failure with its one error: (path, code, message).
    let encrypt = ("/api/dev/encrypt", "encryption_failed", "Encryption failed");
    let decrypt = ("/api/dev/decrypt", "decryption_failed", "Decryption failed");
    let cases = [
        (encrypt, json!({})),
        (encrypt, json!({"payload": 1, "legacy": "yes"})),
        (decrypt, json!({"encrypted": "zz:zz"})),
        (decrypt, json!({"encrypted": 5})),
    ];
    for ((path, code, error), sent) in cases {
        let res = app
            .client
            .post(app.at(path))
            .json(&sent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path} {sent}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({"success": false, "error": error, "code": code}),
            "{path} {sent}"
        );
    }
    for (path, code, _) in [encrypt, decrypt] {
        let res = app
            .client
            .post(app.at(path))
            .body("not json")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], code, "{path}");
    }
}

#[tokio::test]
async fn dev_tools_do_not_exist_when_switched_off() {
    let app = spawn_app(&[("DEV_TOOLS", "false")]).await;
    let res = app
        .client
        .post(app.at("/api/dev/encrypt"))
        .json(&json!({"payload": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "route_not_found");
}

#[tokio::test]
async fn metrics_count_proxied_and_local_requests() {
    let app = spawn_app(&[]).await;
    app.get_json("/api/products/1").await;
    app.get_json("/api/products/2").await;
    app.get_json("/api/products/2/nothing-documented").await;
    app.get_json("/health").await;
    app.get_json("/nowhere").await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"http_requests_total{service="api-gateway",method="GET",route="/api/products/{id}",status="200"} 2"#),
        "the path's template, not the prefix and never the id: {text}"
    );
    assert!(
        text.contains(r#"http_requests_total{service="api-gateway",method="GET",route="/api/products",status="200"} 1"#),
        "an undocumented path counts under its prefix: {text}"
    );
    assert!(!text.contains(r#"route="/api/products/2"#), "{text}");
    assert!(
        text.contains(r#"route="/health",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"method="GET",route="unmatched",status="404"} 1"#),
        "a stray to the gateway's own routes is counted as the services count theirs: {text}"
    );
}

#[tokio::test]
async fn metrics_on_the_public_port_answer_only_the_internal_token() {
    let app = spawn_app(&[]).await;
    for token in [None, Some("not-the-internal-token")] {
        let mut req = app.client.get(app.at("/metrics"));
        if let Some(t) = token {
            req = req.header("x-internal-token", t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{token:?}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "internal_token_invalid", "{body}");
        assert!(!body.to_string().contains("http_requests_total"));
    }
    let text = app.metrics().await;
    assert!(
        text.contains(r#"route="/metrics",status="401"} 2"#),
        "refusals are counted: {text}"
    );
    test_support::probe::assert_build_and_process_samples(
        &text,
        "api-gateway",
        env!("CARGO_PKG_VERSION"),
    );
}
