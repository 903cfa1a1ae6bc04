//! Health, readiness, the OpenAPI document, unknown routes and serving with `App::run`.

use crate::helpers::spawn_app;
use product_service::{build, Config};
use reqwest::StatusCode;
use shared::platform::Backends;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn health_answers_the_shape_every_service_shares_without_auth() {
    let app = spawn_app().await;
    let r = app.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "healthy");
    assert_eq!(r.body["database"], "up");
    test_support::probe::assert_health_shape(&r.body, "product-service");
    assert!(r.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn the_openapi_document_is_served_on_the_services_port() {
    let app = spawn_app().await;
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body["openapi"], "3.1.0");
    assert!(r.body["paths"]["/api/products/{id}"]["patch"].is_object());
    assert!(
        r.body["paths"].get("/internal/reservations").is_none(),
        "the internal API is not in the public document"
    );
}

#[tokio::test]
async fn ready_answers_200_when_the_database_answers() {
    let app = spawn_app().await;
    let r = app.get("/ready", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
}

#[tokio::test]
async fn unknown_routes_get_the_json_404() {
    let app = spawn_app().await;
    let r = app.get("/api/nope", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "route_not_found");
}

#[tokio::test]
async fn run_serves_until_shutdown_is_cancelled() {
    let config = Config::from_env(&test_support::test_env()).unwrap();
    let app = build(config, Backends::in_process()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run(listener, shutdown.clone()));
    let res = reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    shutdown.cancel();
    let finished = tokio::time::timeout(std::time::Duration::from_secs(5), running).await;
    assert!(finished.unwrap().unwrap().is_ok());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_reservation_outcomes() {
    let app = spawn_app().await;
    app.get("/api/products", None).await;
    let body = serde_json::json!({"orderId": "0000000000000000000000a9", "items": [{"productId": "aaaaaaaaaaaaaaaaaaaaaaaa", "quantity": 1}]});
    app.internal("/internal/reservations", body).await;
    let text = test_support::probe::metrics(&app.url).await;
    test_support::probe::assert_samples(
        &text,
        &[
            r#"http_requests_total{service="product-service",method="GET",route="/api/products",status="200"} 1"#,
            r#"http_request_duration_seconds_count{service="product-service",method="GET",route="/api/products"} 1"#,
            r#"product_reservations_total{service="product-service",outcome="product_not_found"} 1"#,
            r#"product_cache_lookups_total{service="product-service",result="miss"} 1"#,
        ],
    );
    test_support::probe::assert_build_and_process_samples(
        &text,
        "product-service",
        env!("CARGO_PKG_VERSION"),
    );
}
