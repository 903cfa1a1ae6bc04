//! `POST /events` from the bus and `GET /internal/orders/:id`: internal token, dedupe by event id,
//! payment outcomes applied as conditional transitions.

use crate::helpers::*;
use serde_json::{json, Value};
use test_support::INTERNAL_TOKEN;

const MOUSE: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";

async fn order_json(app: &TestApp, id: &str) -> Value {
    let res = app
        .http
        .get(format!("{}/internal/orders/{id}", app.url))
        .header("x-internal-token", INTERNAL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["data"].clone()
}

#[tokio::test]
async fn payment_processed_confirms_the_order_and_a_redelivery_is_harmless() {
    let mut app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let event = envelope(
        "650000000000000000000001",
        "PaymentProcessed",
        json!({"orderId": id, "paymentId": "pay-9", "transactionId": "tx-9", "amount": 10}),
    );

    let first = app.deliver(&event).await;
    let second = app.deliver(&json!([event])).await;

    assert_eq!(first.status(), 200);
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({"success": true})
    );
    assert_eq!(second.status(), 200);
    let order = order_json(&app, &id).await;
    assert_eq!(
        (order["status"].as_str(), order["paymentStatus"].as_str()),
        (Some("confirmed"), Some("completed"))
    );
    assert_eq!(order["paymentId"], "pay-9");
    // Exactly one OrderUpdated came from the two deliveries: the next one is the admin's step.
    let res = app
        .put(
            &format!("/api/orders/{id}/status"),
            &admin(),
            &json!({"status": "processing"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.next_event("OrderUpdated").await["data"]["status"],
        "confirmed"
    );
    assert_eq!(
        app.next_event("OrderUpdated").await["data"]["status"],
        "processing"
    );
}

#[tokio::test]
async fn payment_failed_fails_the_order_and_releases_its_stock() {
    let mut app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let id = app.place(&token, &[(MOUSE, 3)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let event = envelope(
        "650000000000000000000002",
        "PaymentFailed",
        json!({"orderId": id, "paymentId": "pay-1", "reason": "Card declined"}),
    );

    assert_eq!(app.deliver(&event).await.status(), 200);

    let order = order_json(&app, &id).await;
    assert_eq!(
        (order["status"].as_str(), order["paymentStatus"].as_str()),
        (Some("failed"), Some("failed"))
    );
    assert_eq!(order["notes"], "Card declined");
    eventually("the release call", || {
        app.products.releases() == vec![id.clone()]
    })
    .await;
    let updated = app.next_event("OrderUpdated").await;
    assert_eq!(
        updated["data"],
        json!({"orderId": id, "status": "failed", "paymentStatus": "failed"})
    );
}

#[tokio::test]
async fn payment_refunded_marks_the_payment_refunded() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let paid = envelope(
        "650000000000000000000003",
        "PaymentProcessed",
        json!({"orderId": id, "paymentId": "p"}),
    );
    let cancel = app
        .put(&format!("/api/orders/{id}/cancel"), &token, &json!({}))
        .await;
    assert_eq!(cancel.status(), 200);
    let refunded = envelope(
        "650000000000000000000004",
        "PaymentRefunded",
        json!({"orderId": id, "paymentId": "p", "refundAmount": 10}),
    );

    assert_eq!(app.deliver(&json!([paid, refunded])).await.status(), 200);

    let order = order_json(&app, &id).await;
    assert_eq!(
        (order["status"].as_str(), order["paymentStatus"].as_str()),
        (Some("cancelled"), Some("refunded"))
    );
}

#[tokio::test]
async fn cancelling_a_paid_order_shows_its_refund_pending_until_payment_refunded() {
    let mut app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let paid = envelope(
        "650000000000000000000011",
        "PaymentProcessed",
        json!({"orderId": id, "paymentId": "p", "transactionId": "tx", "amount": 10}),
    );
    assert_eq!(app.deliver(&paid).await.status(), 200);

    let cancel = app
        .put(&format!("/api/orders/{id}/cancel"), &token, &json!({}))
        .await;
    assert_eq!(cancel.status(), 200);
    let answer = cancel.json::<Value>().await.unwrap()["data"].clone();
    let shown = |o: &Value| (o["status"].clone(), o["paymentStatus"].clone());
    let pending = (json!("cancelled"), json!("refund_pending"));
    assert_eq!(shown(&answer), pending, "the refund is under way, not done");
    let read: Value = app
        .get(&format!("/api/orders/{id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown(&read["data"]), pending, "GET says the same");
    let listed: Value = app.get("/api/orders", &token).await.json().await.unwrap();
    assert_eq!(shown(&listed["data"][0]), pending, "and so does the list");
    // Payments is told the stored state: a completed payment to refund.
    let cancelled = app.next_event("OrderCancelled").await;
    assert_eq!(cancelled["data"]["paymentStatus"], "completed");

    let refunded = envelope(
        "650000000000000000000012",
        "PaymentRefunded",
        json!({"orderId": id, "paymentId": "p", "refundAmount": 10}),
    );
    assert_eq!(app.deliver(&refunded).await.status(), 200);
    let order = order_json(&app, &id).await;
    assert_eq!(shown(&order), (json!("cancelled"), json!("refunded")));
}

#[tokio::test]
async fn a_payment_landing_after_the_cancellation_shows_its_refund_pending() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cancel = app
        .put(&format!("/api/orders/{id}/cancel"), &token, &json!({}))
        .await;
    assert_eq!(
        cancel.json::<Value>().await.unwrap()["data"]["paymentStatus"],
        "pending",
        "nothing was paid: nothing to refund"
    );
    let paid = envelope(
        "650000000000000000000013",
        "PaymentProcessed",
        json!({"orderId": id, "paymentId": "p", "transactionId": "tx", "amount": 10}),
    );
    assert_eq!(app.deliver(&paid).await.status(), 200);
    let order = order_json(&app, &id).await;
    assert_eq!(
        (order["status"].as_str(), order["paymentStatus"].as_str()),
        (Some("cancelled"), Some("refund_pending"))
    );
}

#[tokio::test]
async fn events_need_the_internal_token_a_valid_envelope_and_ignore_unknown_types() {
    let app = spawn_app().await;
    let (_, token) = user();
    let unknown = envelope(
        "650000000000000000000005",
        "StockLow",
        json!({"productId": MOUSE}),
    );

    let anonymous = app
        .http
        .post(format!("{}/events", app.url))
        .bearer_auth(&token)
        .json(&unknown)
        .send()
        .await
        .unwrap();
    let ignored = app.deliver(&unknown).await;
    let malformed = app.deliver(&json!({"type": "PaymentProcessed"})).await;
    let no_order = app
        .deliver(&envelope(
            "650000000000000000000006",
            "PaymentProcessed",
            json!({"paymentId": "p"}),
        ))
        .await;
    let missing = app
        .deliver(&envelope(
            "650000000000000000000007",
            "PaymentFailed",
            json!({"orderId": MOUSE}),
        ))
        .await;
    let internal = app
        .http
        .get(format!("{}/internal/orders/{MOUSE}", app.url))
        .send()
        .await
        .unwrap();

    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap()["code"],
        "internal_token_invalid"
    );
    assert_eq!(ignored.status(), 200);
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["code"],
        "invalid_event"
    );
    assert_eq!(no_order.status(), 400);
    assert_eq!(
        missing.status(),
        200,
        "an event about an unknown order is acknowledged"
    );
    assert_eq!(internal.status(), 401);
    let res = app
        .http
        .get(format!("{}/internal/orders/{MOUSE}", app.url))
        .header("x-internal-token", INTERNAL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
