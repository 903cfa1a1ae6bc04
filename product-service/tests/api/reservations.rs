//! `/internal/reservations`: internal token, all-or-nothing, idempotency, release once.

use crate::helpers::{product_body, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ORDER: &str = "0000000000000000000000e1";

async fn product(app: &TestApp, sku: &str, stock: i64) -> String {
    let mut body = product_body(sku);
    body["stock"] = json!(stock);
    app.create(body).await["_id"].as_str().unwrap().to_string()
}

fn reserve_body(order: &str, items: &[(&str, i64)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(id, q)| json!({"productId": id, "quantity": q}))
        .collect();
    json!({"orderId": order, "items": items})
}

#[tokio::test]
async fn reservation_endpoints_need_the_internal_token() {
    let app = spawn_app().await;
    let id = product(&app, "TOK-1", 5).await;
    let admin = app.admin();
    for path in [
        "/internal/reservations".to_string(),
        format!("/internal/reservations/{ORDER}/release"),
    ] {
        let res = app
            .client
            .post(format!("{}{path}", app.url))
            .bearer_auth(&admin)
            .json(&reserve_body(ORDER, &[(&id, 1)]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        let res = app
            .client
            .post(format!("{}{path}", app.url))
            .header("x-internal-token", "wrong")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "internal_token_invalid", "{path}");
    }
    assert_eq!(app.stock_of(&id).await, 5);
}

#[tokio::test]
async fn reserve_returns_201_with_prices_and_a_repeat_returns_200_without_taking_more() {
    let app = spawn_app().await;
    let id = product(&app, "RES-1", 10).await;
    let body = reserve_body(ORDER, &[(&id, 2), (&id, 1)]);
    let r = app.internal("/internal/reservations", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let expected = json!({"orderId": ORDER, "status": "reserved", "items": [{"productId": id, "name": "Product RES-1", "price": 19.99, "quantity": 3}]});
    assert_eq!(r.body["data"], expected);
    assert_eq!(app.stock_of(&id).await, 7);
    let r = app.internal("/internal/reservations", body).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"], expected);
    assert_eq!(app.stock_of(&id).await, 7);
}

#[tokio::test]
async fn insufficient_stock_is_409_and_leaves_every_stock_unchanged() {
    let app = spawn_app().await;
    let a = product(&app, "RES-2", 5).await;
    let b = product(&app, "RES-3", 1).await;
    let r = app
        .internal(
            "/internal/reservations",
            reserve_body(ORDER, &[(&a, 2), (&b, 2)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["code"], "insufficient_stock");
    assert_eq!(r.body["error"], "Insufficient stock for Product RES-3");
    assert_eq!((app.stock_of(&a).await, app.stock_of(&b).await), (5, 1));
    // Nothing was recorded: the same order can reserve what is available.
    let r = app
        .internal("/internal/reservations", reserve_body(ORDER, &[(&a, 2)]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_or_inactive_product_is_404() {
    let app = spawn_app().await;
    let unknown = "aaaaaaaaaaaaaaaaaaaaaaaa";
    let r = app
        .internal(
            "/internal/reservations",
            reserve_body(ORDER, &[(unknown, 1)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "product_not_found");
    assert_eq!(r.body["error"], format!("Product {unknown} not found"));
}

#[tokio::test]
async fn release_puts_stock_back_once_and_a_released_order_cannot_reserve_again() {
    let app = spawn_app().await;
    let id = product(&app, "REL-1", 4).await;
    app.internal("/internal/reservations", reserve_body(ORDER, &[(&id, 3)]))
        .await;
    let path = format!("/internal/reservations/{ORDER}/release");
    for _ in 0..2 {
        let r = app.internal(&path, json!({})).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.body["data"],
            json!({"orderId": ORDER, "status": "released"})
        );
        assert_eq!(app.stock_of(&id).await, 4);
    }
    let r = app
        .internal("/internal/reservations", reserve_body(ORDER, &[(&id, 1)]))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["code"], "reservation_released");
    let r = app
        .internal(
            "/internal/reservations/0000000000000000000000e9/release",
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "reservation_not_found");
}

#[tokio::test]
async fn invalid_reservation_requests_are_400() {
    let app = spawn_app().await;
    let body = json!({"orderId": "x", "items": [{"productId": "y", "quantity": 0}, 5]});
    let r = app.internal("/internal/reservations", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let fields: Vec<_> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "orderId",
            "items.0.productId",
            "items.0.quantity",
            "items.1"
        ]
    );
    let r = app
        .internal("/internal/reservations/not-an-id/release", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_orders_for_ten_units_never_oversell() {
    let app = std::sync::Arc::new(spawn_app().await);
    let id = product(&app, "RACE-1", 10).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (app, id) = (app.clone(), id.clone());
        tasks.spawn(async move {
            let order = format!("{:024x}", 0xabc000 + i);
            app.internal("/internal/reservations", reserve_body(&order, &[(&id, 1)]))
                .await
                .status
        });
    }
    let mut created = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            StatusCode::CREATED => created += 1,
            other => assert_eq!(other, StatusCode::CONFLICT),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(app.stock_of(&id).await, 0);
}
