//! Startup recovery, shutdown, and the configured simulated provider.

use crate::helpers::{new_id, spawn_app, spawn_app_simulated, token, TestApp};
use payment_service::domain::{NewPayment, Payment, PaymentMethod, PaymentStatus};
use serde_json::json;
use shared::events::EventEnvelope;

fn payment(user: &str, status: PaymentStatus) -> Payment {
    let new = NewPayment {
        order_id: new_id(),
        user_id: user.to_string(),
        amount_cents: 1_250,
        method: PaymentMethod::DebitCard,
    };
    Payment::from_new(new, status)
}

#[tokio::test]
async fn a_restart_resumes_interrupted_charges_and_refunds() {
    let db = test_support::TempSqlite::new();
    restart_resumes_interrupted_work(&db.url()).await;
}

#[tokio::test]
async fn on_mongodb_a_restart_resumes_interrupted_charges_and_refunds() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    restart_resumes_interrupted_work(&db.url).await;
    db.cleanup().await;
}

/// Leaves a charge `processing` and a refund `refunding` in the database at `url`, then starts
/// the service on it: both finish, each with one provider call.
async fn restart_resumes_interrupted_work(url: &str) {
    let user = new_id();
    let (charging, refunding) = (
        payment(&user, PaymentStatus::Processing),
        payment(&user, PaymentStatus::Processing),
    );
    {
        let store = payment_service::store::connect(url).await.unwrap();
        store.insert(&charging).await.unwrap();
        store.insert(&refunding).await.unwrap();
        let e = EventEnvelope::new("PaymentProcessed", json!({}), "test");
        store
            .complete(&refunding.id, "txn_old", &e)
            .await
            .unwrap()
            .unwrap();
        store.begin_refund(&refunding.id).await.unwrap().unwrap();
    }
    let mut app = crate::helpers::spawn_app_with(
        crate::helpers::ScriptedProvider::new(),
        &[("DATABASE_URL", url)],
    )
    .await;
    let t = token(&user, "user");
    app.wait_event("PaymentProcessed", &charging.order_id).await;
    app.wait_status(&t, &charging.order_id, "completed").await;
    assert_eq!(app.provider.inner.charges_for(&charging.id), 1);
    let event = app.wait_event("PaymentRefunded", &refunding.order_id).await;
    assert_eq!(event["data"]["refundAmount"], json!(12.5));
    app.wait_status(&t, &refunding.order_id, "refunded").await;
    assert_eq!(app.provider.inner.refunds_for("txn_old"), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_worker_takes_over_a_charge_abandoned_while_running() {
    let db = test_support::TempSqlite::new();
    worker_takes_over_abandoned_charge(&db.url()).await;
}

#[tokio::test]
async fn on_mongodb_the_worker_takes_over_a_charge_abandoned_while_running() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    worker_takes_over_abandoned_charge(&db.url).await;
    db.cleanup().await;
}

/// Puts a long-untouched `processing` payment into the database at `url` of a running service:
/// its worker finds it stale and charges it once.
async fn worker_takes_over_abandoned_charge(url: &str) {
    let mut app = crate::helpers::spawn_app_with(
        crate::helpers::ScriptedProvider::new(),
        &[("DATABASE_URL", url)],
    )
    .await;
    // Serving means startup recovery is over: what follows can only be found as stale.
    test_support::probe::health(&app.url).await;
    let user = new_id();
    let mut abandoned = payment(&user, PaymentStatus::Processing);
    abandoned.updated_at -= 10 * 60 * 1000;
    let store = payment_service::store::connect(url).await.unwrap();
    store.insert(&abandoned).await.unwrap();
    app.wait_event("PaymentProcessed", &abandoned.order_id)
        .await;
    let now = store.get(&abandoned.id).await.unwrap().unwrap();
    assert_eq!(now.status, PaymentStatus::Completed);
    assert_eq!(app.provider.inner.charges_for(&abandoned.id), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn run_returns_promptly_when_shutdown_is_requested() {
    let mut app = spawn_app().await;
    assert_eq!(test_support::probe::ready(&app.url).await.status, 200);
    app.stop().await.unwrap();
    assert!(app
        .client
        .get(format!("{}/health", app.url))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn the_configured_simulated_provider_declines_when_told_to() {
    let env = [
        ("PAYMENT_LATENCY_MS", "0-5"),
        ("PAYMENT_DECLINE_RATE", "1"),
        ("PAYMENT_SEED", "11"),
    ];
    let mut app = spawn_app_simulated(&env).await;
    let (user, order) = (new_id(), new_id());
    app.post_events(TestApp::order_created(&order, &user, 3.0))
        .await;
    let event = app.wait_event("PaymentFailed", &order).await;
    assert!(event["data"]["reason"]
        .as_str()
        .unwrap()
        .contains("declined"));
}

#[tokio::test]
async fn the_configured_simulated_provider_fails_transiently_until_the_budget_runs_out() {
    let env = [
        ("PAYMENT_LATENCY_MS", "0-5"),
        ("PAYMENT_FAILURE_RATE", "1"),
        ("PAYMENT_SEED", "5"),
        ("PAYMENT_RETRY_BUDGET_MS", "500"),
    ];
    let mut app = spawn_app_simulated(&env).await;
    let (user, order) = (new_id(), new_id());
    app.post_events(TestApp::order_created(&order, &user, 3.0))
        .await;
    let event = app.wait_event("PaymentFailed", &order).await;
    let reason = event["data"]["reason"].as_str().unwrap();
    // The last attempt may end in the transient error or in the budget's last sliver of time.
    assert!(reason.contains("gave up after"), "{reason}");
    app.wait_status(&token(&user, "user"), &order, "failed")
        .await;
}
