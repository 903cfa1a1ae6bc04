//! The bus on MongoDB: publish → fan-out → list → replay end to end (skipped without
//! `MONGO_TEST_URL`), and an unreachable MongoDB (always runs): writes and `/ready` answer 503
//! promptly while `/health` stays 200 and says so.

use crate::helpers::{delivery, spawn_app, spawn_app_on, stub, subscribers, Mode, FAST_RETRIES};
use serde_json::json;
use std::time::{Duration, Instant};
use test_support::{TestMongo, INTERNAL_TOKEN};

#[tokio::test]
async fn on_mongodb_events_are_stored_delivered_listed_and_replayed() {
    let Some(m) = TestMongo::new() else { return };
    let mut orders = stub(Mode::Ok).await;
    let mut payments = stub(Mode::FailFirst(1)).await;
    let subs = subscribers(&[("orders", &orders), ("payments", &payments)]);
    let mut env = vec![("EVENT_SUBSCRIBERS", subs.as_str())];
    env.extend_from_slice(&FAST_RETRIES);
    let app = spawn_app_on(&m.url, &env).await;
    let body = json!([
        {"id": "m-1", "type": "OrderCreated", "data": {"orderId": "o1"}},
        {"id": "m-2", "type": "PaymentProcessed", "data": {"orderId": "o1", "amount": 1250}},
    ]);
    let res = app.publish(&body).await;
    assert_eq!(res.status(), 202);
    // Each subscriber gets both, in arrival order (payments after one failed attempt of m-1).
    let got: Vec<_> = [orders.next().await, orders.next().await]
        .iter()
        .map(|r| r.body["id"].clone())
        .collect();
    assert_eq!(got, ["m-1", "m-2"]);
    assert_eq!(payments.next().await.body["id"], "m-1");
    let e = app
        .wait_for_event("m-1", |e| {
            e["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["status"] == "delivered")
        })
        .await;
    assert_eq!(delivery(&e, "orders")["attempts"], 1);
    let p = delivery(&e, "payments");
    assert_eq!(p["attempts"], 2);
    assert_eq!(p["lastError"], "subscriber answered 500");
    let list = app.get_json("/events?type=PaymentProcessed").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["data"][0]["data"],
        json!({"orderId": "o1", "amount": 1250})
    );
    // A republished id is accepted without new deliveries; a replay redelivers.
    assert_eq!(app.publish(&body).await.status(), 202);
    let replay = app
        .client
        .post(format!("{}/events/m-2/replay", app.url))
        .header("x-internal-token", INTERNAL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(
        replay.json::<serde_json::Value>().await.unwrap()["data"]["queued"],
        2
    );
    app.wait_for_event("m-2", |e| {
        e["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"] == 1)
    })
    .await;
    app.health_where(|h| {
        (&h["status"], &h["totalEvents"], &h["pending"])
            == (&json!("healthy"), &json!(2), &json!(0))
    })
    .await;
    assert_eq!(test_support::probe::ready(&app.url).await.status, 200);
    app.stop().await;
    m.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_mongodb_makes_writes_and_ready_503_while_health_stays_200() {
    let app = spawn_app(&[
        ("DATABASE_URL", "mongodb://127.0.0.1:1/events_down"),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "300"),
    ])
    .await;
    let started = Instant::now();
    let res = app
        .publish(&json!({"type": "OrderCreated", "data": {"orderId": "o1"}}))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["code"], "service_unavailable", "{body}");
    assert_eq!(test_support::probe::ready(&app.url).await.status, 503);
    let health = test_support::probe::health(&app.url).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["database"], "down", "{health}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
