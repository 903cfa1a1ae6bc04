//! `POST /api/payments/:id/refund`: owner or admin, completed only, exactly once.

use crate::helpers::{new_id, spawn_app, token};
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
