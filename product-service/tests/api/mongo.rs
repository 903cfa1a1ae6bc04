//! The service on MongoDB: one end-to-end path through the API (skipped without
//! `MONGO_TEST_URL`), and the behaviour when MongoDB cannot be reached (503 writes, 503 `/ready`,
//! 200 `/health`).

use crate::helpers::{product_body, spawn_app_env, spawn_app_on};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};
use test_support::TestMongo;

#[tokio::test]
async fn products_and_reservations_work_end_to_end_on_mongodb() {
    let Some(db) = TestMongo::new() else { return };
    let app = spawn_app_on(&db.url).await;
    let r = app.get("/ready", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = app.create(product_body("MG-1")).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = app.admin();
    let dup = app
        .call(
            Method::POST,
            "/api/products",
            Some(&admin),
            Some(product_body("MG-1")),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["code"], "sku_taken");
    let list = app.get("/api/products?search=mg-1", None).await;
    assert_eq!(list.body["data"][0]["_id"], id.as_str(), "{}", list.body);

    let order = "0000000000000000000000f9";
    let body = json!({"orderId": order, "items": [{"productId": id, "quantity": 4}]});
    let r = app.internal("/internal/reservations", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["data"]["items"][0]["price"], 19.99);
    assert_eq!(app.stock_of(&id).await, 6);
    let too_many =
        json!({"orderId": "0000000000000000000000fa", "items": [{"productId": id, "quantity": 7}]});
    let r = app.internal("/internal/reservations", too_many).await;
    assert_eq!(r.body["code"], "insufficient_stock", "{}", r.body);
    let r = app
        .internal(
            &format!("/internal/reservations/{order}/release"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.stock_of(&id).await, 10);
    db.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_mongodb_gives_503_writes_and_readiness_but_a_200_health() {
    let env = test_support::test_env()
        .with("DATABASE_URL", "mongodb://127.0.0.1:1/products")
        .with("MONGO_SERVER_SELECTION_TIMEOUT_MS", "300");
    let app = spawn_app_env(env, test_support::backends().await).await;
    let admin = app.admin();

    let started = Instant::now();
    let r = app
        .call(
            Method::POST,
            "/api/products",
            Some(&admin),
            Some(product_body("DOWN-1")),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(
        r.body["code"], "service_unavailable",
        "a JSON envelope: {}",
        r.body
    );

    let r = app.get("/ready", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    let r = app.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (r.body["status"].as_str(), r.body["database"].as_str()),
        (Some("degraded"), Some("down"))
    );
}
