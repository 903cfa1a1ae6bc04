//! The service on MongoDB: one end-to-end path through the API against `MONGO_TEST_URL` (skipped
//! without it), and the answers when MongoDB cannot be reached (always runs).

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::TestMongo;

const MOUSE: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test]
async fn an_order_is_placed_replayed_paid_listed_and_cancelled_on_mongodb() {
    let Some(db) = TestMongo::new() else { return };
    let mut app = spawn_app_on(&db.url).await;
    app.products.add(MOUSE, "Mouse", json!(19.99), 10);
    let (user_id, token) = user();
    let send = || {
        app.http
            .post(format!("{}/api/orders", app.url))
            .bearer_auth(&token)
            .header("Idempotency-Key", "mongo-1")
            .json(&order_body(&[(MOUSE, 2)]))
            .send()
    };

    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let order = first.json::<Value>().await.unwrap()["data"].clone();
    let replay: Value = send().await.unwrap().json().await.unwrap();
    let id = order["_id"].as_str().unwrap().to_string();
    assert_eq!(replay["data"]["_id"], json!(id));
    assert_eq!(app.products.reservations().len(), 1);
    assert_eq!(order["totalAmount"], json!(39.98));
    let paid = envelope(
        &shared::ids::new_object_id(),
        "PaymentProcessed",
        json!({"orderId": id, "paymentId": "pay-m", "transactionId": "tx", "amount": 39.98}),
    );
    assert_eq!(app.deliver(&paid).await.status(), 200);
    assert_eq!(app.deliver(&paid).await.status(), 200);

    let list: Value = app.get("/api/orders", &token).await.json().await.unwrap();
    assert_eq!(list["pagination"]["total"], 1);
    assert_eq!(list["data"][0]["paymentId"], "pay-m");
    assert_eq!(list["data"][0]["userId"], json!(user_id));

    let cancel = app
        .put(&format!("/api/orders/{id}/cancel"), &token, &json!({}))
        .await;
    assert_eq!(cancel.status(), 200);
    let mut events = Vec::new();
    while events.last().map(|e: &Value| e["type"].clone()) != Some(json!("OrderCancelled")) {
        let next = tokio::time::timeout(DEADLINE, app.bus.recv()).await;
        events.push(next.expect("events not delivered").unwrap());
    }
    let kinds: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["OrderCreated", "OrderUpdated", "OrderCancelled"],
        "one event per change, in order; the redelivered payment emitted nothing"
    );
    assert!(events.iter().all(|e| e["data"]["orderId"] == json!(id)));
    assert_eq!(events[1]["data"]["status"], "confirmed");
    assert_eq!(events[2]["data"]["paymentStatus"], "completed");
    eventually("the stock release", || {
        app.products.releases() == vec![id.clone()]
    })
    .await;
    assert_eq!(app.get_open("/ready").await.status(), 200);
    let health: Value = app.get_open("/health").await.json().await.unwrap();
    assert_eq!(health["database"], "up");

    app.shutdown.cancel();
    app.handle.await.unwrap().unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn with_mongodb_unreachable_writes_and_ready_are_503_json_and_health_is_200() {
    let app = spawn_app_with(Options {
        env: vec![
            ("DATABASE_URL", "mongodb://127.0.0.1:1/orders_down".into()),
            ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "200".into()),
        ],
        ..Default::default()
    })
    .await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();

    let started = Instant::now();
    let placed = app
        .post("/api/orders", &token, &order_body(&[(MOUSE, 1)]))
        .await;
    let took = started.elapsed();
    let ready = app.get_open("/ready").await;
    let health = app.get_open("/health").await;

    assert_eq!(placed.status(), 503);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let body: Value = placed.json().await.unwrap();
    assert_eq!(
        (body["success"].as_bool(), body["code"].as_str()),
        (Some(false), Some("service_unavailable"))
    );
    assert_eq!(
        app.products.releases().len(),
        1,
        "the reservation of the unstored order was given back"
    );
    assert_eq!(ready.status(), 503);
    assert!(ready.json::<Value>().await.is_ok(), "/ready answers JSON");
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(
        (&health["status"], &health["database"]),
        (&json!("degraded"), &json!("down"))
    );
    assert_eq!(health["outboxPending"], Value::Null);
}
