//! The service on MongoDB (`MONGO_TEST_URL`, skipped without it) end to end through its API, and
//! on an unreachable MongoDB: writes answer 503 quickly, `/ready` is 503, `/health` stays 200.

use crate::helpers::{new_id, spawn_app_with, status_json, token, ScriptedProvider, TestApp};
use axum::http::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};
use test_support::TestMongo;

#[tokio::test]
async fn on_mongodb_an_order_is_charged_once_announced_and_refunded_once() {
    let Some(db) = TestMongo::new() else { return };
    let mut app = spawn_app_with(ScriptedProvider::new(), &[("DATABASE_URL", &db.url)]).await;
    let user = new_id();
    // Known to the order stub too: a refund asks the order service first.
    let order = app.add_order(&user, 42.5, "confirmed");
    let created = TestApp::order_created(&order, &user, 42.5);
    let res = app.post_events(json!([created.clone(), created])).await;
    assert_eq!(res.status().as_u16(), 200);
    let processed = app.wait_event("PaymentProcessed", &order).await;
    let t = token(&user, "user");
    let payment = app.wait_status(&t, &order, "completed").await;
    let id = payment["_id"].as_str().unwrap().to_string();
    assert_eq!(processed["data"]["paymentId"], payment["_id"]);
    assert_eq!(payment["amount"], json!(42.5));
    assert_eq!(app.provider.inner.charges_for(&id), 1);

    let (code, body) = app.refund(&t, &id).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "refunded");
    let (code, body) = app.refund(&t, &id).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("payment_not_refundable"))
    );
    app.wait_event("PaymentRefunded", &order).await;
    assert_eq!(app.events_seen("PaymentProcessed", &order), 1);
    assert_eq!(app.events_seen("PaymentRefunded", &order), 1);

    assert_eq!(test_support::probe::ready(&app.url).await.status, 200);
    let (code, body) = status_json(
        app.client
            .get(format!("{}/health", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (code, body["database"].as_str()),
        (StatusCode::OK, Some("up"))
    );
    app.stop().await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn on_mongodb_process_charges_and_a_cancellation_refunds() {
    let Some(db) = TestMongo::new() else { return };
    let mut app = spawn_app_with(ScriptedProvider::new(), &[("DATABASE_URL", &db.url)]).await;
    let user = new_id();
    let order = app.add_order(&user, 10.0, "pending");
    let t = token(&user, "user");
    let (code, body) = app.process(&t, json!({"orderId": order})).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["status"], "completed");
    let (code, body) = app.process(&t, json!({"orderId": order})).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("payment_already_completed"))
    );
    let cancelled = serde_json::to_value(shared::events::EventEnvelope::new(
        "OrderCancelled",
        json!({"orderId": order}),
        "order-service",
    ))
    .unwrap();
    assert_eq!(app.post_events(cancelled).await.status().as_u16(), 200);
    app.wait_event("PaymentRefunded", &order).await;
    app.wait_status(&t, &order, "refunded").await;
    assert_eq!(app.provider.inner.total_charges(), 1);
    app.stop().await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_mongodb_gives_503_on_writes_and_ready_but_health_stays_200() {
    let env = [
        ("DATABASE_URL", "mongodb://127.0.0.1:1/payments_fault"),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "300"),
    ];
    let mut app = spawn_app_with(ScriptedProvider::new(), &env).await;
    let (user, order) = (new_id(), new_id());

    let started = Instant::now();
    let res = app
        .post_events(TestApp::order_created(&order, &user, 5.0))
        .await;
    let (code, body) = status_json(res).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        (body["success"].as_bool(), body["code"].as_str()),
        (Some(false), Some("service_unavailable"))
    );

    let order = app.add_order(&user, 5.0, "pending");
    let started = Instant::now();
    let (code, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(app.provider.inner.total_charges(), 0);

    assert_eq!(test_support::probe::ready(&app.url).await.status, 503);
    let started = Instant::now();
    let (code, body) = status_json(
        app.client
            .get(format!("{}/health", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        (body["status"].as_str(), body["database"].as_str()),
        (Some("degraded"), Some("down"))
    );
    app.stop().await.unwrap();
}
