//! What the gateway enforces before proxying: rate limits (per client, per user, trusted proxies),
//! the bearer-token pre-check, CORS and security headers.

use crate::helpers::{spawn_app, TestApp};
use serde_json::{json, Value};
use shared::auth::JwtKeys;
use shared::platform::{TOKEN_AUDIENCE, TOKEN_ISSUER};
use std::time::Duration;

async fn login(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.at("/api/auth/login"))
        .json(&json!({"email": "a@example.com", "password": "whatever1"}));
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_sixth_login_in_a_minute_is_a_json_429_with_retry_after() {
    let app = spawn_app(&[]).await;
    for i in 0..5 {
        let res = login(&app, None).await;
        assert_eq!(res.status(), 200, "login {i}");
        assert_eq!(res.headers()["ratelimit-limit"], "5");
        assert_eq!(
            res.headers()["ratelimit-remaining"],
            (4 - i).to_string().as_str()
        );
    }
    let res = login(&app, None).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(res.headers()["ratelimit-policy"], "5;w=60");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(app.auth.hits(), 5);
    // Other kinds of requests have their own budgets.
    let (status, headers, _) = app.get_json("/api/products").await;
    assert_eq!(status, 200);
    assert_eq!(headers["ratelimit-limit"], "1000");
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_key() {
    let app = spawn_app(&[]).await;
    for i in 0..5 {
        assert_eq!(
            login(&app, Some(&format!("203.0.113.{i}"))).await.status(),
            200
        );
    }
    assert_eq!(login(&app, Some("198.51.100.77")).await.status(), 429);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_key() {
    let app = spawn_app(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).await;
    for _ in 0..5 {
        assert_eq!(login(&app, Some("203.0.113.1")).await.status(), 200);
    }
    assert_eq!(login(&app, Some("203.0.113.1")).await.status(), 429);
    // A different client behind the same proxy has its own budget; trusted hops are skipped.
    assert_eq!(
        login(&app, Some("203.0.113.2, 10.1.2.3")).await.status(),
        200
    );
}

#[tokio::test]
async fn the_per_user_write_limit_follows_the_token_across_addresses() {
    let app = spawn_app(&[
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("RATE_LIMIT_WRITE", "2/60"),
    ])
    .await;
    let token = app.token("64b7f0c2a1b2c3d4e5f60718", "s1").await;
    let post = |xff: &'static str| {
        app.client
            .post(app.at("/api/orders"))
            .bearer_auth(&token)
            .header("x-forwarded-for", xff)
            .json(&json!({}))
            .send()
    };
    assert_eq!(post("203.0.113.1").await.unwrap().status(), 200);
    assert_eq!(post("203.0.113.2").await.unwrap().status(), 200);
    let res = post("203.0.113.3").await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(app.orders.hits(), 2);
}

#[tokio::test]
async fn rate_limits_can_be_switched_off() {
    let app = spawn_app(&[("RATE_LIMIT_ENABLED", "false")]).await;
    for _ in 0..7 {
        let res = login(&app, None).await;
        assert_eq!(res.status(), 200);
        assert!(!res.headers().contains_key("ratelimit-limit"));
    }
}

#[tokio::test]
async fn an_invalid_bearer_token_is_401_at_the_gateway_without_reaching_the_upstream() {
    let app = spawn_app(&[]).await;
    let res = app
        .client
        .get(app.at("/api/orders"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "token_invalid");
    assert_eq!(app.orders.hits(), 0);
}

#[tokio::test]
async fn a_valid_token_is_forwarded_and_a_revoked_session_is_refused() {
    let app = spawn_app(&[]).await;
    let token = app.token("64b7f0c2a1b2c3d4e5f60718", "sess-1").await;
    let res = app
        .client
        .get(app.at("/api/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["headers"]["authorization"], format!("Bearer {token}"));

    app.backends
        .sessions
        .revoke_session("sess-1", Duration::from_secs(900))
        .await
        .unwrap();
    let res = app
        .client
        .get(app.at("/api/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "session_revoked");
    assert_eq!(app.orders.hits(), 1);
}

#[tokio::test]
async fn a_validly_signed_token_of_a_session_nobody_opened_is_refused() {
    let app = spawn_app(&[]).await;
    let forged = JwtKeys::new(test_support::JWT_SECRET, TOKEN_ISSUER, TOKEN_AUDIENCE)
        .issue("64b7f0c2a1b2c3d4e5f60718", "admin", "made-up-session")
        .0;
    let res = app
        .client
        .get(app.at("/api/orders"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "session_revoked");
    assert_eq!(app.orders.hits(), 0);
}

#[tokio::test]
async fn refresh_with_a_stale_access_token_still_reaches_the_auth_service() {
    let app = spawn_app(&[]).await;
    let res = app
        .client
        .post(app.at("/api/auth/refresh"))
        .bearer_auth("expired.or.garbage")
        .json(&json!({"refreshToken": "r"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.auth.hits(), 1);
}

#[tokio::test]
async fn cors_preflight_is_answered_by_the_gateway() {
    let app = spawn_app(&[("ALLOWED_ORIGINS", "https://shop.example")]).await;
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.at("/api/products"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(res.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert_eq!(app.products.hits(), 0);

    let res = app
        .client
        .get(app.at("/api/products"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("access-control-allow-origin"));
    let res = app
        .client
        .get(app.at("/api/products"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}

#[tokio::test]
async fn security_headers_are_on_proxied_local_and_error_responses() {
    let app = spawn_app(&[]).await;
    for path in ["/api/products/1", "/health", "/api/nowhere"] {
        let res = app.client.get(app.at(path)).send().await.unwrap();
        let h = res.headers();
        assert_eq!(h["x-frame-options"], "SAMEORIGIN", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
        assert!(h.contains_key("strict-transport-security"), "{path}");
        assert!(h.contains_key("x-request-id"), "{path}");
    }
}
