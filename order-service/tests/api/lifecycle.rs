//! Cancelling and fulfilment: conditional transitions, stock release, events.

use crate::helpers::*;
use serde_json::{json, Value};

const MOUSE: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";

async fn confirm(app: &TestApp, order_id: &str) {
    let event = envelope(
        &shared::ids::new_object_id(),
        "PaymentProcessed",
        json!({"orderId": order_id, "paymentId": "pay-1", "transactionId": "tx", "amount": 10}),
    );
    assert_eq!(app.deliver(&event).await.status(), 200);
}

#[tokio::test]
async fn cancel_releases_the_stock_emits_order_cancelled_and_a_second_cancel_is_409() {
    let mut app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (user_id, token) = user();
    let order = app.place(&token, &[(MOUSE, 2)]).await;
    let id = order["_id"].as_str().unwrap().to_string();

    let res = app
        .put(&format!("/api/orders/{id}/cancel"), &token, &json!({}))
        .await;

    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["status"],
        "cancelled"
    );
    eventually("the release call", || {
        app.products.releases() == vec![id.clone()]
    })
    .await;
    let event = app.next_event("OrderCancelled").await;
    assert_eq!(event["data"]["orderId"], json!(id));
    assert_eq!(event["data"]["userId"], json!(user_id));
    assert_eq!(event["data"]["paymentStatus"], "pending");
    assert_eq!(event["data"]["items"][0]["quantity"], 2);
    let again = app
        .put(&format!("/api/orders/{id}/cancel"), &token, &json!({}))
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<Value>().await.unwrap()["code"],
        "invalid_status_transition"
    );
}

#[tokio::test]
async fn a_release_is_retried_until_the_product_service_accepts_it() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.products.0.lock().unwrap().failing_releases = 2;

    let res = app
        .put(&format!("/api/orders/{id}/cancel"), &admin(), &json!({}))
        .await;

    assert_eq!(res.status(), 200);
    eventually("the release to succeed", || {
        app.products.releases() == vec![id.clone()]
    })
    .await;
    assert_eq!(app.products.0.lock().unwrap().release_attempts, 3);
}

#[tokio::test]
async fn admins_move_orders_one_step_forward_and_everything_else_is_409() {
    let mut app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let admin = admin();
    let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/orders/{id}/status");

    let from_pending = app
        .put(&path, &admin, &json!({"status": "processing"}))
        .await;
    confirm(&app, &id).await;
    let by_user = app
        .put(&path, &token, &json!({"status": "processing"}))
        .await;
    let skip = app.put(&path, &admin, &json!({"status": "shipped"})).await;
    let processing = app
        .put(&path, &admin, &json!({"status": "processing"}))
        .await;
    let shipped = app
        .put(
            &path,
            &admin,
            &json!({"status": "shipped", "trackingNumber": "TRK-1"}),
        )
        .await;
    let back = app
        .put(&path, &admin, &json!({"status": "confirmed"}))
        .await;
    let bad = app
        .put(
            &path,
            &admin,
            &json!({"status": "lost", "trackingNumber": ""}),
        )
        .await;

    assert_eq!(from_pending.status(), 409);
    assert_eq!(by_user.status(), 403);
    assert_eq!(skip.status(), 409);
    assert_eq!(processing.status(), 200);
    let shipped: Value = shipped.json().await.unwrap();
    assert_eq!(shipped["data"]["status"], "shipped");
    assert_eq!(shipped["data"]["trackingNumber"], "TRK-1");
    assert_eq!(back.status(), 409);
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["errors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let confirmed = app.next_event("OrderUpdated").await;
    assert_eq!(
        confirmed["data"],
        json!({"orderId": id, "status": "confirmed", "paymentStatus": "completed"})
    );
    assert_eq!(
        app.next_event("OrderUpdated").await["data"]["status"],
        "processing"
    );
    assert_eq!(
        app.next_event("OrderUpdated").await["data"]["status"],
        "shipped"
    );
    let cancel = app
        .put(&format!("/api/orders/{id}/cancel"), &token, &json!({}))
        .await;
    assert_eq!(cancel.status(), 409);
}

async fn step(app: &TestApp, id: &str, status: &str) -> reqwest::Response {
    app.put(
        &format!("/api/orders/{id}/status"),
        &admin(),
        &json!({ "status": status }),
    )
    .await
}

#[tokio::test]
async fn an_order_whose_payment_was_refunded_is_never_moved_along_fulfilment() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    confirm(&app, &id).await;
    let refunded = envelope(
        &shared::ids::new_object_id(),
        "PaymentRefunded",
        json!({"orderId": id, "paymentId": "pay-1", "refundAmount": 10}),
    );
    assert_eq!(app.deliver(&refunded).await.status(), 200);

    let res = step(&app, &id, "processing").await;

    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "payment_not_completed");
    assert_eq!(
        body["error"],
        "Cannot change order status to processing: payment is refunded"
    );
    let order: Value = app
        .get(&format!("/api/orders/{id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["data"]["status"], "confirmed");
    assert_eq!(order["data"]["paymentStatus"], "refunded");
}

#[tokio::test]
async fn the_refund_call_cancels_an_owners_order_before_processing_and_an_admins_until_shipped() {
    let mut app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = app.place(&token, &[(MOUSE, 1)]).await["_id"]
            .as_str()
            .unwrap()
            .to_string();
        confirm(&app, &id).await;
        ids.push(id);
    }
    for id in &ids[1..] {
        assert_eq!(step(&app, id, "processing").await.status(), 200);
    }
    assert_eq!(step(&app, &ids[2], "shipped").await.status(), 200);
    let refund = |id: &str, by: &str| {
        let path = format!("/internal/orders/{id}/refund");
        let body = json!({ "by": by });
        let app = &app;
        async move {
            let res = app.internal_post(&path, &body).await;
            assert_eq!(res.status(), 200, "{path}");
            res.json::<Value>().await.unwrap()["data"].clone()
        }
    };

    let owner_confirmed = refund(&ids[0], "owner").await;
    let owner_processing = refund(&ids[1], "owner").await;
    let admin_processing = refund(&ids[1], "admin").await;
    let admin_shipped = refund(&ids[2], "admin").await;

    assert_eq!(owner_confirmed["cancelled"], true);
    assert_eq!(owner_confirmed["order"]["status"], "cancelled");
    assert_eq!(owner_processing["cancelled"], false);
    assert_eq!(owner_processing["order"]["status"], "processing");
    assert_eq!(admin_processing["cancelled"], true);
    assert_eq!(admin_processing["order"]["status"], "cancelled");
    assert_eq!(admin_shipped["cancelled"], false);
    assert_eq!(admin_shipped["order"]["status"], "shipped");
    eventually("both releases", || {
        let mut released = app.products.releases();
        released.sort();
        let mut want = vec![ids[0].clone(), ids[1].clone()];
        want.sort();
        released == want
    })
    .await;
    assert_eq!(
        app.next_event("OrderCancelled").await["data"]["orderId"],
        json!(ids[0])
    );
    let res = app
        .internal_post(
            &format!("/internal/orders/{}/refund", ids[0]),
            &json!({"by": "someone"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = app
        .http
        .post(format!("{}/internal/orders/{}/refund", app.url, ids[0]))
        .json(&json!({"by": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
