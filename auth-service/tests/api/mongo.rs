//! The service on MongoDB: one end-to-end path through the API on a fresh database (skipped without
//! `MONGO_TEST_URL`), and the behaviour when MongoDB cannot be reached.

use crate::{refresh_of, spawn_app_on, token_of};
use reqwest::StatusCode;
use serde_json::json;
use shared::platform::Backends;
use std::time::{Duration, Instant};
use test_support::{TestMongo, TestServer};

#[tokio::test]
async fn register_refresh_admin_and_logout_work_end_to_end_on_mongodb() {
    let Some(db) = TestMongo::new() else { return };
    let app = spawn_app_on(&db.url).await;

    // The bootstrapped admin and a registered user live in MongoDB.
    let admin = app.admin_token().await;
    let data = app.register("Mongo.User@example.com", "password-123").await;
    let user_id = data["user"]["_id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/api/auth/register",
            None,
            json!({"name": "Again", "email": "MONGO.USER@example.com", "password": "password-123"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "email_taken");

    // Rotation, then reuse of the old refresh token ends the session.
    let first = refresh_of(&data);
    let r = app
        .post("/api/auth/refresh", None, json!({"refreshToken": first}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rotated = r.body["data"].clone();
    let r = app
        .post("/api/auth/refresh", None, json!({"refreshToken": first}))
        .await;
    assert_eq!(r.body["code"], "refresh_token_reused", "{}", r.body);
    let r = app
        .get("/api/auth/profile", Some(&token_of(&rotated)))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);

    // A fresh login; the admin sees both users and disabling ends the user's sessions.
    let login = app.login("mongo.user@example.com", "password-123").await;
    let r = app
        .get("/api/auth/users?page=1&limit=10", Some(&admin))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2, "{}", r.body);
    assert_eq!(r.body["data"][0]["_id"], user_id.as_str());
    let r = app
        .patch(
            &format!("/api/auth/users/{user_id}"),
            Some(&admin),
            json!({"isActive": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["isActive"], false);
    let r = app.get("/api/auth/profile", Some(&token_of(&login))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "mongo.user@example.com", "password": "password-123"}),
        )
        .await;
    assert_eq!(r.body["code"], "account_disabled", "{}", r.body);

    // The admin logs out; the session is ended in MongoDB.
    let r = app.post("/api/auth/logout", Some(&admin), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.get("/api/auth/profile", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = app.get("/ready", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    db.cleanup().await;
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_on_mongodb_give_exactly_one_201() {
    let Some(db) = TestMongo::new() else { return };
    let app = spawn_app_on(&db.url).await;
    let attempts = (0..6).map(|i| {
        app.post(
            "/api/auth/register",
            None,
            json!({
                "name": "Racer",
                "email": if i % 2 == 0 { "race@example.com" } else { "Race@Example.com" },
                "password": "password-123",
            }),
        )
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 5));
    db.cleanup().await;
}

#[tokio::test]
async fn with_mongodb_unreachable_writes_are_503_ready_is_503_and_health_is_200() {
    let env = test_support::test_env()
        .with("ARGON2_MEMORY_KIB", "8")
        .with("DATABASE_URL", "mongodb://127.0.0.1:1/auth_down")
        .with("MONGO_SERVER_SELECTION_TIMEOUT_MS", "300");
    let config = auth_service::Config::from_env(&env).unwrap();
    let app = auth_service::build(config, Backends::in_process())
        .await
        .unwrap();
    let server = TestServer::start(app.router()).await;
    let client = test_support::client();

    let started = Instant::now();
    let res = client
        .post(format!("{}/api/auth/register", server.url))
        .json(&json!({"name": "Down", "email": "down@example.com", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["code"], "service_unavailable", "{body}");

    assert_eq!(test_support::probe::ready(&server.url).await.status, 503);
    let body = test_support::probe::health(&server.url).await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "down");
}

/// One replica of the service in production mode: MongoDB store plus Redis backends.
async fn spawn_replica(db_url: &str, redis_url: &str, prefix: &str) -> TestServer {
    let env = test_support::test_env()
        .with("ARGON2_MEMORY_KIB", "8")
        .with("RATE_LIMIT_AUTH", "3/60")
        .with("DATABASE_URL", db_url)
        .with("REDIS_URL", redis_url)
        .with("REDIS_KEY_PREFIX", prefix);
    let config = auth_service::Config::from_env(&env).unwrap();
    let backends = Backends::from_config(&config.common).unwrap();
    let app = auth_service::build(config, backends).await.unwrap();
    TestServer::start(app.router()).await
}

#[tokio::test]
async fn two_replicas_on_mongodb_and_redis_share_users_sessions_and_login_limits() {
    let Some(db) = TestMongo::new() else { return };
    let Some(redis_url) = test_support::redis_test_url() else {
        db.cleanup().await;
        return;
    };
    let prefix = format!("test-auth-{}:", shared::ids::new_object_id());
    let a = spawn_replica(&db.url, &redis_url, &prefix).await;
    let b = spawn_replica(&db.url, &redis_url, &prefix).await;
    let client = test_support::client();
    let post = |url: String, body: serde_json::Value, token: Option<String>| {
        let mut req = client.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let creds = json!({"email": "replica@example.com", "password": "password-123"});

    // Registered on A (attempt 1), logged in on B (attempt 2): one database.
    let (status, _) = post(
        format!("{}/api/auth/register", a.url),
        json!({"name": "Replica", "email": "replica@example.com", "password": "password-123"}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = post(format!("{}/api/auth/login", b.url), creds.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = token_of(&body["data"]);

    // Logged out on A, the token is refused on B.
    let (status, body) = post(
        format!("{}/api/auth/logout", a.url),
        json!({}),
        Some(access.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let res = client
        .get(format!("{}/api/auth/profile", b.url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Attempt 3 on A is allowed, attempt 4 on B is over the shared per-email limit of 3.
    let (status, body) = post(format!("{}/api/auth/login", a.url), creds.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(format!("{}/api/auth/login", b.url), creds, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    db.cleanup().await;
}
