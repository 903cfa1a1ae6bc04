//! `POST /api/payments/:id/refund`: owner or admin, completed only, exactly once; the owner's only
//! while the order can still be cancelled, an admin's (a return) in any state.

use crate::helpers::{new_id, spawn_app, spawn_app_with, token, ScriptedProvider};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn refund_happens_once_under_five_concurrent_requests() {
    let mut app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 25.0, "pending");
    let t = token(&user, "user");
    let (_, body) = app.process(&t, json!({"orderId": order})).await;
    let id = body["data"]["_id"].as_str().unwrap().to_string();
    let txn = body["data"]["transactionId"].as_str().unwrap().to_string();
    let calls = (0..5).map(|_| app.refund(&t, &id));
    let results = futures_util::future::join_all(calls).await;
    let ok: Vec<_> = results
        .iter()
        .filter(|(c, _)| *c == StatusCode::OK)
        .collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    assert_eq!(ok[0].1["data"]["status"], "refunded");
    assert_eq!(ok[0].1["data"]["refundAmount"], json!(25));
    for (code, body) in results.iter().filter(|(c, _)| *c != StatusCode::OK) {
        assert_eq!(
            (*code, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("payment_not_refundable"))
        );
    }
    app.wait_event("PaymentRefunded", &order).await;
    assert_eq!(app.provider.inner.refunds_for(&txn), 1);
    assert_eq!(app.events_seen("PaymentRefunded", &order), 1);
}

#[tokio::test]
async fn only_the_owner_or_an_admin_may_refund() {
    let app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 5.0, "pending");
    let (_, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    let id = body["data"]["_id"].as_str().unwrap().to_string();
    let (code, body) = app.refund(&token(&new_id(), "user"), &id).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("payment_not_found"))
    );
    let (code, _) = app.refund(&token(&new_id(), "admin"), &id).await;
    assert_eq!(code, StatusCode::OK);
    let (code, body) = app.refund(&token(&user, "user"), &id).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("payment_not_refundable"))
    );
}

#[tokio::test]
async fn a_refund_the_provider_refuses_answers_502_and_leaves_the_payment_completed() {
    let mut provider = ScriptedProvider::new();
    provider.refunds_fail = true;
    let mut app = spawn_app_with(provider, &[("PAYMENT_RETRY_BUDGET_MS", "300")]).await;
    let user = new_id();
    let order = app.add_order(&user, 5.0, "pending");
    let t = token(&user, "user");
    let (_, body) = app.process(&t, json!({"orderId": order})).await;
    let id = body["data"]["_id"].as_str().unwrap().to_string();
    let (code, body) = app.refund(&t, &id).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("refund_failed"))
    );
    let (_, body) = app.get_payment(&t, &order).await;
    assert_eq!(body["data"]["status"], "completed");
    assert_eq!(app.events_seen("PaymentRefunded", &order), 0);
}

#[tokio::test]
async fn an_encrypted_process_body_is_decrypted_before_validation() {
    let app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 7.0, "pending");
    let cipher = shared::payload::PayloadCipher::new(
        test_support::ENCRYPTION_KEY,
        shared::payload::MacPolicy::Optional,
    )
    .unwrap();
    let sealed = cipher.encrypt(json!({"orderId": order}).to_string().as_bytes());
    let (code, body) = app
        .process(&token(&user, "user"), json!({"encrypted": sealed}))
        .await;
    assert_eq!(
        (code, body["data"]["status"].as_str()),
        (StatusCode::CREATED, Some("completed"))
    );
}

/// A paid order of a fresh user in `status` at the order stub: (user, order id, payment id).
async fn paid(app: &crate::helpers::TestApp, status: &str) -> (String, String, String) {
    let user = new_id();
    let order = app.add_order(&user, 12.5, "pending");
    let (code, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    app.set_order_status(&order, status);
    (
        user,
        order,
        body["data"]["_id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn an_owner_refund_of_a_confirmed_order_cancels_it_and_refunds() {
    let mut app = spawn_app().await;
    let (user, order, id) = paid(&app, "confirmed").await;
    let (code, body) = app.refund(&token(&user, "user"), &id).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "refunded");
    assert_eq!(app.order_status(&order), "cancelled");
    app.wait_event("PaymentRefunded", &order).await;
}

#[tokio::test]
async fn an_owner_may_not_refund_once_the_order_is_being_fulfilled() {
    let mut app = spawn_app().await;
    for status in ["processing", "shipped", "delivered"] {
        let (user, order, id) = paid(&app, status).await;
        let (code, body) = app.refund(&token(&user, "user"), &id).await;
        assert_eq!(
            (code, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("order_not_refundable")),
            "{status}: {body}"
        );
        assert_eq!(app.order_status(&order), status);
        let (_, now) = app.get_payment(&token(&user, "user"), &order).await;
        assert_eq!(now["data"]["status"], "completed", "{status}");
        assert_eq!(app.events_seen("PaymentRefunded", &order), 0, "{status}");
    }
}

#[tokio::test]
async fn an_admin_refunds_in_any_state_and_cancels_only_what_has_not_shipped() {
    let mut app = spawn_app().await;
    let admin = token(&new_id(), "admin");
    for (status, after) in [
        ("processing", "cancelled"),
        ("shipped", "shipped"),
        ("delivered", "delivered"),
    ] {
        let (_, order, id) = paid(&app, status).await;
        let (code, body) = app.refund(&admin, &id).await;
        assert_eq!(code, StatusCode::OK, "{status}: {body}");
        assert_eq!(body["data"]["status"], "refunded", "{status}");
        assert_eq!(app.order_status(&order), after, "{status}");
        app.wait_event("PaymentRefunded", &order).await;
    }
}

#[tokio::test]
async fn an_owner_refund_whose_cancellation_reached_the_worker_first_answers_with_that_refund() {
    let mut app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 40.0, "confirmed");
    let t = token(&user, "user");
    let (_, body) = app.process(&t, json!({"orderId": order})).await;
    let id = body["data"]["_id"].as_str().unwrap().to_string();
    let txn = body["data"]["transactionId"].as_str().unwrap().to_string();
    // The order service cancels the order; its `OrderCancelled` reaches this service (and its
    // worker refunds) before the refund request gets the order service's answer.
    app.refund_hold.arm();
    let (client, url, token_) = (app.client.clone(), app.url.clone(), t.clone());
    let request = tokio::spawn(async move {
        let res = client
            .post(format!("{url}/api/payments/{id}/refund"))
            .bearer_auth(token_)
            .send()
            .await
            .unwrap();
        crate::helpers::status_json(res).await
    });
    app.refund_hold.reached().await;
    let cancelled = serde_json::to_value(shared::events::EventEnvelope::new(
        "OrderCancelled",
        json!({"orderId": order, "userId": user, "items": [], "paymentStatus": "completed"}),
        "order-service",
    ))
    .unwrap();
    assert_eq!(app.post_events(cancelled).await.status().as_u16(), 200);
    app.wait_event("PaymentRefunded", &order).await;
    app.refund_hold.resume();
    let (status, body) = request.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "refunded");
    assert_eq!(app.provider.inner.refunds_for(&txn), 1);
    assert_eq!(app.events_seen("PaymentRefunded", &order), 1);
}
