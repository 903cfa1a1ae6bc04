//! The event-driven flow: OrderCreated → charge in the background → PaymentProcessed/Failed.

use crate::helpers::{new_id, spawn_app, spawn_app_with, token, ScriptedProvider, TestApp};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn order_created_charges_the_order_and_emits_payment_processed() {
    let mut app = spawn_app().await;
    let (user, order) = (new_id(), new_id());
    let res = app
        .post_events(TestApp::order_created(&order, &user, 49.99))
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let event = app.wait_event("PaymentProcessed", &order).await;
    let payment = app
        .wait_status(&token(&user, "user"), &order, "completed")
        .await;
    assert_eq!(event["data"]["paymentId"], payment["_id"]);
    assert_eq!(event["data"]["transactionId"], payment["transactionId"]);
    assert_eq!(event["data"]["amount"], json!(49.99));
    assert_eq!(event["source"], "payment-service");
    assert_eq!(payment["amount"], json!(49.99));
    assert_eq!(payment["paymentMethod"], "credit_card");
    assert_eq!(
        app.provider
            .inner
            .charges_for(payment["_id"].as_str().unwrap()),
        1
    );
}

#[tokio::test]
async fn the_same_order_created_twice_gives_one_payment_and_one_charge() {
    let mut app = spawn_app().await;
    let (user, order) = (new_id(), new_id());
    let event = TestApp::order_created(&order, &user, 12.0);
    let redelivered = event.clone();
    let other_id = TestApp::order_created(&order, &user, 12.0);
    assert_eq!(
        app.post_events(json!([event, redelivered]))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(app.post_events(other_id).await.status().as_u16(), 200);
    app.wait_event("PaymentProcessed", &order).await;
    let payment = app
        .wait_status(&token(&user, "admin"), &order, "completed")
        .await;
    assert_eq!(app.provider.inner.total_charges(), 1);
    assert_eq!(
        app.provider
            .inner
            .charges_for(payment["_id"].as_str().unwrap()),
        1
    );
    assert_eq!(app.events_seen("PaymentProcessed", &order), 1);
}

#[tokio::test]
async fn transient_failures_are_retried_within_the_budget() {
    let provider = ScriptedProvider::new();
    provider.transient_left.store(3, Ordering::SeqCst);
    let mut app = spawn_app_with(provider, &[("PAYMENT_RETRY_BUDGET_MS", "8000")]).await;
    let (user, order) = (new_id(), new_id());
    app.post_events(TestApp::order_created(&order, &user, 5.0))
        .await;
    app.wait_event("PaymentProcessed", &order).await;
    assert_eq!(app.provider.attempts.load(Ordering::SeqCst), 4);
    assert_eq!(app.provider.inner.total_charges(), 1);
}

#[tokio::test]
async fn a_declined_charge_fails_the_payment_without_retrying() {
    let mut provider = ScriptedProvider::new();
    provider.decline = true;
    let mut app = spawn_app_with(provider, &[]).await;
    let (user, order) = (new_id(), new_id());
    app.post_events(TestApp::order_created(&order, &user, 5.0))
        .await;
    let event = app.wait_event("PaymentFailed", &order).await;
    assert_eq!(event["data"]["reason"], "Card declined");
    let payment = app
        .wait_status(&token(&user, "user"), &order, "failed")
        .await;
    assert_eq!(payment["failureReason"], "Card declined");
    assert_eq!(event["data"]["paymentId"], payment["_id"]);
    assert_eq!(app.provider.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_payment_fails_when_the_retry_budget_runs_out() {
    let mut provider = ScriptedProvider::new();
    provider.always_transient = true;
    let mut app = spawn_app_with(provider, &[("PAYMENT_RETRY_BUDGET_MS", "700")]).await;
    let (user, order) = (new_id(), new_id());
    let started = std::time::Instant::now();
    app.post_events(TestApp::order_created(&order, &user, 5.0))
        .await;
    let event = app.wait_event("PaymentFailed", &order).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(event["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("gave up after"));
    assert!(app.provider.attempts.load(Ordering::SeqCst) >= 2);
    assert_eq!(app.provider.inner.total_charges(), 0);
}

#[tokio::test]
async fn order_cancelled_refunds_a_completed_payment() {
    let mut app = spawn_app().await;
    let (user, order) = (new_id(), new_id());
    app.post_events(TestApp::order_created(&order, &user, 30.0))
        .await;
    let paid = app.wait_event("PaymentProcessed", &order).await;
    let cancelled = serde_json::to_value(shared::events::EventEnvelope::new(
        "OrderCancelled",
        json!({"orderId": order, "userId": user, "items": [], "paymentStatus": "completed"}),
        "order-service",
    ))
    .unwrap();
    assert_eq!(
        app.post_events(cancelled.clone()).await.status().as_u16(),
        200
    );
    assert_eq!(app.post_events(cancelled).await.status().as_u16(), 200);
    let refunded = app.wait_event("PaymentRefunded", &order).await;
    assert_eq!(refunded["data"]["refundAmount"], json!(30));
    let payment = app
        .wait_status(&token(&user, "user"), &order, "refunded")
        .await;
    assert_eq!(payment["refundAmount"], json!(30));
    assert!(payment["refundedAt"].is_string());
    let txn = paid["data"]["transactionId"].as_str().unwrap();
    assert_eq!(app.provider.inner.refunds_for(txn), 1);
    assert_eq!(app.events_seen("PaymentRefunded", &order), 1);
}

#[tokio::test]
async fn a_charge_in_flight_when_the_order_is_cancelled_is_refunded_when_it_completes() {
    let mut app = spawn_app_with(ScriptedProvider::held(), &[]).await;
    let (user, order) = (new_id(), new_id());
    app.post_events(TestApp::order_created(&order, &user, 8.0))
        .await;
    app.wait_status(&token(&user, "user"), &order, "processing")
        .await;
    let cancelled = serde_json::to_value(shared::events::EventEnvelope::new(
        "OrderCancelled",
        json!({"orderId": order, "userId": user, "items": [], "paymentStatus": "pending"}),
        "order-service",
    ))
    .unwrap();
    app.post_events(cancelled).await;
    app.provider.release();
    app.wait_event("PaymentRefunded", &order).await;
    app.wait_status(&token(&user, "user"), &order, "refunded")
        .await;
    assert_eq!(app.provider.inner.total_charges(), 1);
}

#[tokio::test]
async fn a_slow_charge_does_not_hold_up_other_payments() {
    let mut provider = ScriptedProvider::held();
    provider.hold_only = Some(100);
    let env = [
        ("PAYMENT_RETRY_BUDGET_MS", "8000"),
        ("PAYMENT_ATTEMPT_TIMEOUT_MS", "6000"),
    ];
    let mut app = spawn_app_with(provider, &env).await;
    let user = new_id();
    let (slow, quick) = (new_id(), new_id());
    app.post_events(TestApp::order_created(&slow, &user, 1.0))
        .await;
    let t = token(&user, "user");
    app.wait_status(&t, &slow, "processing").await;
    app.post_events(TestApp::order_created(&quick, &user, 2.0))
        .await;
    app.wait_event("PaymentProcessed", &quick).await;
    let (_, body) = app.get_payment(&t, &slow).await;
    assert_eq!(body["data"]["status"], "processing");
    app.provider.release();
    app.wait_event("PaymentProcessed", &slow).await;
}

#[tokio::test]
async fn payment_concurrency_bounds_the_charges_in_flight() {
    let app = spawn_app_with(ScriptedProvider::held(), &[("PAYMENT_CONCURRENCY", "3")]).await;
    let user = new_id();
    let orders: Vec<String> = (0..5).map(|_| new_id()).collect();
    for order in &orders {
        let res = app
            .post_events(TestApp::order_created(order, &user, 2.0))
            .await;
        assert_eq!(res.status(), 200);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.provider.attempts.load(Ordering::SeqCst) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "three charges never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The worker looks for more work when woken; none of it starts while three are held.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.provider.attempts.load(Ordering::SeqCst), 3);
    app.provider.release();
    let t = token(&user, "user");
    for order in &orders {
        app.wait_status(&t, order, "completed").await;
    }
    assert_eq!(app.provider.attempts.load(Ordering::SeqCst), 5);
}
