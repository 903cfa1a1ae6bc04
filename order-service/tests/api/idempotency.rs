//! `Idempotency-Key`: a replay returns the same order without a second reservation, another body
//! under the same key is 422, and concurrent duplicates create one order.

use crate::helpers::*;
use serde_json::{json, Value};

const MOUSE: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";

async fn orders_of(app: &TestApp, token: &str) -> u64 {
    let body: Value = app.get("/api/orders", token).await.json().await.unwrap();
    body["pagination"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn same_idempotency_key_and_body_returns_the_same_order_without_a_second_reservation() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 5);
    let (_, token) = user();
    let send = |body: Value| {
        app.http
            .post(format!("{}/api/orders", app.url))
            .bearer_auth(&token)
            .header("Idempotency-Key", "checkout-42")
            .json(&body)
            .send()
    };

    let first: Value = send(order_body(&[(MOUSE, 2)]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = send(order_body(&[(MOUSE, 2)])).await.unwrap();
    assert!(again.status() == 200 || again.status() == 201);
    let again: Value = again.json().await.unwrap();
    let other = send(order_body(&[(MOUSE, 3)])).await.unwrap();

    assert_eq!(first["data"]["_id"], again["data"]["_id"]);
    assert_eq!(app.products.reservations().len(), 1);
    assert_eq!(app.products.stock(MOUSE), 3);
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<Value>().await.unwrap()["code"],
        "idempotency_key_reused"
    );
    assert_eq!(orders_of(&app, &token).await, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_create_one_order() {
    concurrent_duplicates_create_one_order(spawn_app().await).await;
}

/// The unique index holds on FerretDB under concurrency too (unlike conditional updates).
#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_create_one_order_on_mongodb() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    concurrent_duplicates_create_one_order(spawn_app_on(&db.url).await).await;
    db.cleanup().await;
}

async fn concurrent_duplicates_create_one_order(app: TestApp) {
    app.products.add(MOUSE, "Mouse", json!(10), 100);
    let (_, token) = user();
    let body = order_body(&[(MOUSE, 1)]);

    let requests = (0..6).map(|_| {
        app.http
            .post(format!("{}/api/orders", app.url))
            .bearer_auth(&token)
            .header("Idempotency-Key", "same")
            .json(&body)
            .send()
    });
    let answers = futures_util::future::join_all(requests).await;

    let mut ids = Vec::new();
    for res in answers {
        let res = res.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        ids.push(res.json::<Value>().await.unwrap()["data"]["_id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(orders_of(&app, &token).await, 1);
    let reserved = app.products.reservations().len();
    eventually("losing reservations to be released", || {
        app.products.releases().len() == reserved - 1
    })
    .await;
}

#[tokio::test]
async fn an_idempotency_key_longer_than_200_characters_is_400() {
    let app = spawn_app().await;
    let (_, token) = user();

    let res = app
        .http
        .post(format!("{}/api/orders", app.url))
        .bearer_auth(&token)
        .header("Idempotency-Key", "k".repeat(201))
        .json(&order_body(&[(MOUSE, 1)]))
        .send()
        .await
        .unwrap();

    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "invalid_idempotency_key"
    );
    assert!(app.products.reservations().is_empty());
}
