//! Registration, login, profile and encrypted bodies.

use crate::{spawn_app, spawn_app_with, token_of};
use reqwest::StatusCode;
use serde_json::json;
use shared::payload::{MacPolicy, PayloadCipher};

#[tokio::test]
async fn register_returns_201_with_the_public_user_and_a_token_pair() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": " Jane ", "email": " Jane@Example.COM ", "password": "password123", "role": "user"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let user = &r.body["data"]["user"];
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "_id",
            "createdAt",
            "email",
            "isActive",
            "name",
            "role",
            "updatedAt"
        ]
    );
    assert_eq!(user["email"], "jane@example.com");
    assert_eq!(user["name"], "Jane");
    assert_eq!(user["role"], "user");
    assert_eq!(user["isActive"], true);
    assert!(
        r.body["data"]["accessToken"]
            .as_str()
            .unwrap()
            .split('.')
            .count()
            == 3
    );
    assert_eq!(r.body["data"]["refreshToken"].as_str().unwrap().len(), 64);
    assert!(!r.body.to_string().contains("argon2"));
}

#[tokio::test]
async fn register_returns_409_for_an_email_taken_in_another_case() {
    let app = spawn_app().await;
    app.register("dup@example.com", "password123").await;
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "Other", "email": "DUP@example.com", "password": "password456"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["code"], "email_taken");
    assert_eq!(r.body["success"], false);
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_give_exactly_one_201() {
    let app = spawn_app().await;
    let attempts = (0..8).map(|i| {
        app.post(
            "/api/auth/register",
            None,
            json!({"name": "Racer", "email": "race@example.com", "password": format!("password{i}00")}),
        )
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.body["code"] == "email_taken")
        .count();
    assert_eq!((created, conflicts), (1, 7));
}

#[tokio::test]
async fn registering_as_admin_is_forbidden() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "Mallory", "email": "m@example.com", "password": "password123", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["code"], "admin_registration_forbidden");
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "m@example.com", "password": "password123"}),
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn validation_failures_list_every_bad_field_in_joi_style() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "J", "email": "nope", "password": "short", "role": "root", "extra": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "validation_failed");
    assert_eq!(r.body["error"], "Validation failed");
    let messages: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "\"name\" length must be at least 2 characters long",
            "\"email\" must be a valid email",
            "\"password\" length must be at least 8 characters long",
            "\"role\" must be one of [user, admin]",
            "\"extra\" is not allowed",
        ]
    );
    let long = "x".repeat(129);
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "Jo", "email": "jo@example.com", "password": long}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "password");
    let r = app.post("/api/auth/login", None, json!({})).await;
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_and_non_json_bodies_are_4xx_json() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/api/auth/login", app.url))
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");
    let res = app
        .client
        .post(format!("{}/api/auth/login", app.url))
        .header("content-type", "text/plain")
        .body("email=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn login_returns_the_user_and_a_token_pair() {
    let app = spawn_app().await;
    app.register("login@example.com", "password123").await;
    let data = app.login("LOGIN@example.com", "password123").await;
    assert_eq!(data["user"]["email"], "login@example.com");
    assert!(!token_of(&data).is_empty());
    assert_eq!(data["refreshToken"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_401() {
    let app = spawn_app().await;
    app.register("known@example.com", "password123").await;
    let wrong = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "known@example.com", "password": "wrong-password"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "ghost@example.com", "password": "wrong-password"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["code"], "invalid_credentials");
    assert_eq!(wrong.body["error"], "Invalid credentials");
    assert_eq!(wrong.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn login_and_register_are_limited_per_email() {
    let app = spawn_app_with(|env| env.with("RATE_LIMIT_AUTH", "2/60")).await;
    let body = json!({"email": "limited@example.com", "password": "whatever1"});
    for _ in 0..2 {
        let r = app.post("/api/auth/login", None, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.post("/api/auth/login", None, body).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.body["code"], "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    let other = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "other@example.com", "password": "whatever1"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn encrypted_login_works_in_the_legacy_and_the_mac_forms() {
    let app = spawn_app().await;
    app.register("enc@example.com", "password123").await;
    let cipher = PayloadCipher::new(test_support::ENCRYPTION_KEY, MacPolicy::Optional).unwrap();
    let plain = br#"{"email":"enc@example.com","password":"password123"}"#;
    for encrypted in [cipher.encrypt_legacy(plain), cipher.encrypt(plain)] {
        let r = app
            .post("/api/auth/login", None, json!({"encrypted": encrypted}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["data"]["user"]["email"], "enc@example.com");
    }
    let r = app
        .post("/api/auth/login", None, json!({"encrypted": "00ff:1234"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "invalid_payload");
    assert_eq!(r.body["error"], "Invalid encrypted payload");
}

#[tokio::test]
async fn encrypted_registration_is_validated_after_decryption() {
    let app = spawn_app().await;
    let cipher = PayloadCipher::new(test_support::ENCRYPTION_KEY, MacPolicy::Optional).unwrap();
    let good =
        cipher.encrypt(br#"{"name":"Enc","email":"encreg@example.com","password":"password123"}"#);
    let r = app
        .post("/api/auth/register", None, json!({"encrypted": good}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bad = cipher.encrypt(br#"{"name":"Enc"}"#);
    let r = app
        .post("/api/auth/register", None, json!({"encrypted": bad}))
        .await;
    assert_eq!(r.body["code"], "validation_failed");
}

#[tokio::test]
async fn profile_returns_the_callers_user_and_needs_a_token() {
    let app = spawn_app().await;
    let data = app.register("me@example.com", "password123").await;
    let r = app.get("/api/auth/profile", Some(&token_of(&data))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"], data["user"]);
    let r = app.get("/api/auth/profile", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "token_missing");
    let r = app.get("/api/auth/profile", Some("not.a.token")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn token_answers_of_register_login_and_refresh_are_never_stored() {
    let app = spawn_app().await;
    let register = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "Cache Me", "email": "nocache@example.com", "password": "password123"}),
        )
        .await;
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "nocache@example.com", "password": "password123"}),
        )
        .await;
    let refresh_token = login.body["data"]["refreshToken"].as_str().unwrap();
    let refresh = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": refresh_token }),
        )
        .await;
    for (name, r) in [
        ("register", register),
        ("login", login),
        ("refresh", refresh),
    ] {
        assert!(r.status.is_success(), "{name}: {}", r.body);
        assert!(r.body["data"]["accessToken"].is_string(), "{name}");
        assert_eq!(r.headers["cache-control"], "no-store", "{name}");
        assert_eq!(r.headers["pragma"], "no-cache", "{name}");
    }
}

#[tokio::test]
async fn auth_bodies_over_16_kib_are_413_and_smaller_ones_are_validated() {
    let app = spawn_app().await;
    let post = |body: String| {
        app.client
            .post(format!("{}/api/auth/login", app.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let padded = |n: usize| {
        format!(
            r#"{{"email":"a@example.com","password":"{}"}}"#,
            "x".repeat(n)
        )
    };
    let res = post(padded(20 * 1024)).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
    let res = post(padded(15 * 1024)).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "password");
}
