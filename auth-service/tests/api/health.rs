//! Health, readiness, draining, unknown routes and the admin bootstrap.

use crate::{spawn_app, ADMIN_EMAIL};
use reqwest::StatusCode;
use serde_json::json;
use shared::platform::Backends;
use test_support::probe;

#[tokio::test]
async fn health_reports_the_database_in_the_shape_every_service_shares_without_auth() {
    let app = spawn_app().await;
    let r = app.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"status": "healthy", "service": "auth-service", "database": "up"})
    );
    probe::assert_health_shape(&r.body, "auth-service");
    assert!(r.headers.contains_key("x-request-id"));
    let r = app.get("/ready", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
}

#[tokio::test]
async fn unknown_routes_answer_the_json_404() {
    let app = spawn_app().await;
    let r = app.get("/api/auth/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "route_not_found");
}

#[tokio::test]
async fn run_serves_until_shutdown_and_returns() {
    let config =
        auth_service::Config::from_env(&test_support::test_env().with("ARGON2_MEMORY_KIB", "8"))
            .unwrap();
    let app = auth_service::build(config, Backends::in_process())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(app.run(listener, shutdown.clone()));
    let res = reqwest::get(format!("{url}/ready")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn the_bootstrapped_admin_can_log_in_and_a_second_build_leaves_it() {
    let app = spawn_app().await;
    let data = app.login(ADMIN_EMAIL, crate::ADMIN_PASSWORD).await;
    assert_eq!(data["user"]["role"], "admin");
    assert_eq!(data["user"]["name"], "Administrator");

    let dir = std::env::temp_dir().join(format!("auth-boot-{}", shared::ids::random_token(6)));
    let url = format!("sqlite://{}/auth.db", dir.display());
    let env = test_support::test_env()
        .with("ARGON2_MEMORY_KIB", "8")
        .with("DATABASE_URL", url.as_str())
        .with("ADMIN_EMAIL", ADMIN_EMAIL);
    for password in ["first-password", "second-password"] {
        let config =
            auth_service::Config::from_env(&env.clone().with("ADMIN_PASSWORD", password)).unwrap();
        auth_service::build(config, Backends::in_process())
            .await
            .unwrap();
    }
    let store = auth_service::store::connect(&url, shared::mongo::MongoOptions::default())
        .await
        .unwrap();
    let admin = store
        .find_user_by_email(ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap();
    let passwords = auth_service::app::password::Passwords::new(8, 1)
        .await
        .unwrap();
    assert!(passwords
        .verify("first-password", Some(&admin.password_hash))
        .await
        .unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_login_outcomes() {
    let app = spawn_app().await;
    app.login(ADMIN_EMAIL, crate::ADMIN_PASSWORD).await;
    let wrong = json!({"email": ADMIN_EMAIL, "password": "wrong-password"});
    app.post("/api/auth/login", None, wrong).await;
    let text = probe::metrics(&app.url).await;
    probe::assert_samples(
        &text,
        &[
            r#"http_requests_total{service="auth-service",method="POST",route="/api/auth/login",status="401"} 1"#,
            r#"auth_events_total{service="auth-service",event="login",outcome="success"} 1"#,
            r#"auth_events_total{service="auth-service",event="login",outcome="invalid_credentials"} 1"#,
            "# TYPE http_request_duration_seconds histogram",
            r#"http_request_duration_seconds_count{service="auth-service",method="POST",route="/api/auth/login"} 2"#,
        ],
    );
    probe::assert_build_and_process_samples(&text, "auth-service", env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn the_openapi_document_is_served_on_the_services_port_without_auth() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/auth/login"]["post"].is_object());
    assert!(doc["paths"].get("/internal/sessions/{sid}").is_none());
}
