//! Health, readiness, authentication and error shapes.

use crate::helpers::{new_id, spawn_app, status_json, token};
use axum::http::StatusCode;
use serde_json::json;
use test_support::probe;

#[tokio::test]
async fn health_has_the_shared_shape_and_ready_checks_the_database() {
    let app = spawn_app().await;
    let health = probe::health(&app.url).await;
    assert_eq!(
        health,
        json!({"status": "healthy", "service": "payment-service", "database": "up"})
    );
    probe::assert_health_shape(&health, "payment-service");
    assert_eq!(probe::ready(&app.url).await.status, 200);
}

#[tokio::test]
async fn payment_routes_require_a_token_and_events_require_the_internal_token() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/api/payments/{}", app.url, new_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let res = app
        .client
        .post(format!("{}/events", app.url))
        .json(&json!({"type": "OrderCreated", "data": {}}))
        .send()
        .await
        .unwrap();
    let (code, body) = status_json(res).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "internal_token_invalid");
}

#[tokio::test]
async fn bad_ids_bodies_and_routes_get_json_4xx() {
    let app = spawn_app().await;
    let user = token(&new_id(), "user");
    let (code, body) = app.get_payment(&user, "not-an-id").await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_id"))
    );
    let (code, body) = app
        .process(
            &user,
            json!({"orderId": "x", "paymentMethod": "bitcoin", "extra": 1}),
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    let fields: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(
        fields,
        vec![json!("orderId"), json!("paymentMethod"), json!("extra")]
    );
    let res = app
        .client
        .get(format!("{}/nope", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(res).await.1["code"], "route_not_found");
    let res = app
        .client
        .post(format!("{}/events", app.url))
        .header("x-internal-token", test_support::INTERNAL_TOKEN)
        .json(&json!({"type": "OrderCreated"}))
        .send()
        .await
        .unwrap();
    assert_eq!(status_json(res).await.1["code"], "invalid_event");
}

#[tokio::test]
async fn a_payment_is_visible_to_its_owner_and_admins_only() {
    let app = spawn_app().await;
    let owner = new_id();
    let order = app.add_order(&owner, 10.0, "pending");
    let (code, _) = app
        .process(&token(&owner, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, body) = app.get_payment(&token(&owner, "user"), &order).await;
    assert_eq!(
        (code, body["data"]["orderId"].as_str()),
        (StatusCode::OK, Some(order.as_str()))
    );
    let (code, _) = app.get_payment(&token(&new_id(), "admin"), &order).await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = app.get_payment(&token(&new_id(), "user"), &order).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("payment_not_found"))
    );
}

#[tokio::test]
async fn metrics_count_requests_payment_outcomes_and_provider_calls() {
    let app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 10.0, "pending");
    let (code, _) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let text = probe::metrics(&app.url).await;
    probe::assert_samples(
        &text,
        &[
            r#"http_requests_total{service="payment-service",method="POST",route="/api/payments/process",status="201"} 1"#,
            r#"payments_total{service="payment-service",outcome="completed"} 1"#,
            r#"payment_provider_calls_total{service="payment-service",result="ok"} 1"#,
        ],
    );
    assert!(text.contains("payment_outbox_pending"), "{text}");
    probe::assert_build_and_process_samples(&text, "payment-service", env!("CARGO_PKG_VERSION"));
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
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/payments/{id}/refund"]["post"].is_object());
    assert!(
        doc["paths"].get("/events").is_none(),
        "the internal API is not in it"
    );
}
