//! `POST /api/payments/process`: ownership, amount check, payable states, idempotency.

use crate::helpers::{new_id, spawn_app, spawn_app_with, token, ScriptedProvider, TestApp};
use axum::http::StatusCode;
use serde_json::json;
use std::sync::atomic::Ordering;

#[tokio::test]
async fn process_charges_the_order_total_and_then_answers_409() {
    let mut app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 99.5, "pending");
    let t = token(&user, "user");
    let (code, body) = app
        .process(
            &t,
            json!({"orderId": order, "paymentMethod": "paypal", "amount": 99.5}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let p = &body["data"];
    assert_eq!(
        (p["status"].as_str(), p["amount"].clone()),
        (Some("completed"), json!(99.5))
    );
    assert_eq!(p["paymentMethod"], "paypal");
    assert!(p["transactionId"].as_str().unwrap().starts_with("txn_"));
    app.wait_event("PaymentProcessed", &order).await;
    let (code, body) = app.process(&t, json!({"orderId": order})).await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("payment_already_completed"))
    );
    assert_eq!(app.provider.inner.total_charges(), 1);
}

#[tokio::test]
async fn process_answers_404_for_another_users_or_a_missing_order() {
    let app = spawn_app().await;
    let order = app.add_order(&new_id(), 10.0, "pending");
    let (code, body) = app
        .process(&token(&new_id(), "user"), json!({"orderId": order}))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("order_not_found"))
    );
    let (code, body) = app
        .process(&token(&new_id(), "user"), json!({"orderId": new_id()}))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("order_not_found"))
    );
    let (code, _) = app
        .process(&token(&new_id(), "admin"), json!({"orderId": order}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(app.provider.inner.total_charges(), 1);
}

#[tokio::test]
async fn process_rejects_an_amount_that_differs_from_the_order_total() {
    let app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 10.0, "pending");
    let (code, body) = app
        .process(
            &token(&user, "user"),
            json!({"orderId": order, "amount": 1}),
        )
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("amount_mismatch"))
    );
    assert_eq!(app.provider.attempts.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn process_refuses_cancelled_and_failed_orders() {
    let app = spawn_app().await;
    let user = new_id();
    for status in ["cancelled", "failed"] {
        let order = app.add_order(&user, 10.0, status);
        let (code, body) = app
            .process(&token(&user, "user"), json!({"orderId": order}))
            .await;
        assert_eq!(
            (code, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("order_not_payable"))
        );
    }
}

#[tokio::test]
async fn process_answers_202_with_the_payment_already_being_charged() {
    let mut app = spawn_app_with(ScriptedProvider::held(), &[]).await;
    let user = new_id();
    let order = app.add_order(&user, 10.0, "pending");
    app.post_events(TestApp::order_created(&order, &user, 10.0))
        .await;
    app.wait_status(&token(&user, "user"), &order, "processing")
        .await;
    let (code, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    assert_eq!(body["data"]["status"], "processing");
    app.provider.release();
    app.wait_event("PaymentProcessed", &order).await;
    assert_eq!(app.provider.inner.total_charges(), 1);
}

#[tokio::test]
async fn a_failed_payment_is_charged_again_under_a_new_key() {
    let mut provider = ScriptedProvider::new();
    provider.always_transient = true;
    let app = spawn_app_with(provider, &[("PAYMENT_RETRY_BUDGET_MS", "300")]).await;
    let user = new_id();
    let order = app.add_order(&user, 10.0, "pending");
    let (code, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(
        (code, body["data"]["status"].as_str()),
        (StatusCode::CREATED, Some("failed"))
    );
    assert!(body["data"]["failureReason"].is_string());
    let first_attempts = app.provider.attempts.load(Ordering::SeqCst);
    let (code, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(
        (code, body["data"]["status"].as_str()),
        (StatusCode::CREATED, Some("failed"))
    );
    assert!(app.provider.attempts.load(Ordering::SeqCst) > first_attempts);
}

#[tokio::test]
async fn a_failed_payment_of_an_order_cancelled_since_is_not_charged_again() {
    let mut provider = ScriptedProvider::new();
    provider.decline = true;
    let app = spawn_app_with(provider, &[]).await;
    let user = new_id();
    let order = app.add_order(&user, 10.0, "pending");
    let (_, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(body["data"]["status"], "failed");
    app.set_order_status(&order, "cancelled");
    let (code, body) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(
        (code, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("order_not_payable"))
    );
    assert_eq!(app.provider.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_order_created_event_after_a_paid_process_call_does_not_charge_again() {
    let mut app = spawn_app().await;
    let user = new_id();
    let order = app.add_order(&user, 15.0, "pending");
    let (code, _) = app
        .process(&token(&user, "user"), json!({"orderId": order}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let res = app
        .post_events(TestApp::order_created(&order, &user, 15.0))
        .await;
    assert_eq!(res.status().as_u16(), 200);
    app.wait_event("PaymentProcessed", &order).await;
    let (_, body) = app.get_payment(&token(&user, "user"), &order).await;
    assert_eq!(body["data"]["status"], "completed");
    assert_eq!(app.provider.inner.total_charges(), 1);
    assert_eq!(app.events_seen("PaymentProcessed", &order), 1);
}

#[tokio::test]
async fn concurrent_process_calls_for_one_order_charge_it_once() {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let env = [("PAYMENT_RETRY_BUDGET_MS", "8000")];
    let mut app = spawn_app_with(ScriptedProvider::held(), &env).await;
    let user = new_id();
    let order = app.add_order(&user, 42.0, "pending");
    let t = token(&user, "user");
    let mut calls: FuturesUnordered<_> = (0..4)
        .map(|_| app.process(&t, json!({"orderId": order})))
        .collect();
    let mut codes = Vec::new();
    while let Some((code, body)) = calls.next().await {
        codes.push(code);
        if code == StatusCode::ACCEPTED {
            assert_eq!(body["data"]["status"], "processing");
        }
        // The three that found the charge in flight have answered: let it finish.
        if codes.len() == 3 {
            app.provider.release();
        }
    }
    drop(calls);
    codes.sort();
    assert_eq!(
        codes,
        vec![
            StatusCode::CREATED,
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED,
            StatusCode::ACCEPTED
        ]
    );
    app.wait_event("PaymentProcessed", &order).await;
    assert_eq!(app.provider.inner.total_charges(), 1);
    assert_eq!(app.provider.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn process_answers_202_when_the_charge_outlasts_the_request_and_finishes_it_later() {
    let env = [
        ("REQUEST_TIMEOUT_MS", "1500"),
        ("PAYMENT_RETRY_BUDGET_MS", "8000"),
    ];
    let mut app = spawn_app_with(ScriptedProvider::held(), &env).await;
    let user = new_id();
    let order = app.add_order(&user, 20.0, "pending");
    let t = token(&user, "user");
    let (code, body) = app.process(&t, json!({"orderId": order})).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["status"], "processing");
    app.provider.release();
    app.wait_event("PaymentProcessed", &order).await;
    app.wait_status(&t, &order, "completed").await;
    assert_eq!(app.provider.inner.total_charges(), 1);
}
