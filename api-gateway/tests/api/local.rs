//! The gateway's own routes: health aggregation, readiness and the developer tools.

use crate::helpers::{closed_url, spawn_app};
use serde_json::{json, Value};

#[tokio::test]
async fn health_is_healthy_when_every_upstream_answers() {
    let app = spawn_app(&[]).await;
    let (status, _, body) = app.get_json("/health").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "status": "healthy",
            "service": "api-gateway",
            "services": {"auth": "up", "products": "up", "orders": "up", "payments": "up", "eventBus": "up"},
            "redis": "not configured",
        })
    );
    let (status, _, body) = app.get_json("/ready").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn health_is_degraded_and_not_ready_when_an_upstream_is_down() {
    let down = closed_url().await;
    let app = spawn_app(&[("PAYMENT_SERVICE_URL", &down)]).await;
    let (status, _, body) = app.get_json("/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["services"]["payments"], "down");
    assert_eq!(body["services"]["auth"], "up");
    let (status, _, body) = app.get_json("/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(app.bus.hits(), 0);
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
    let cases = [
        ("/api/dev/encrypt", json!({}), "Encryption failed"),
        (
            "/api/dev/decrypt",
            json!({"encrypted": "zz:zz"}),
            "Decryption failed",
        ),
        (
            "/api/dev/decrypt",
            json!({"encrypted": 5}),
            "Decryption failed",
        ),
    ];
    for (path, sent, error) in cases {
        let res = app
            .client
            .post(app.at(path))
            .json(&sent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path} {sent}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"], error);
        assert!(body["code"].is_string());
    }
    let res = app
        .client
        .post(app.at("/api/dev/decrypt"))
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
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
    app.get_json("/health").await;
    let res = app.client.get(app.at("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{service="api-gateway",method="GET",route="/api/products",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/health",status="200"} 1"#),
        "{text}"
    );
}
