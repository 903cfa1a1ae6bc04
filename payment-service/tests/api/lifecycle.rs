//! Work taken over after a crash or given back at shutdown, shutdown, and the configured
//! simulated provider.

use crate::helpers::{
    new_id, spawn_app, spawn_app_simulated, spawn_app_with, token, ScriptedProvider, TestApp,
};
use payment_service::domain::{NewPayment, Payment, PaymentMethod, PaymentStatus};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
async fn a_restart_takes_over_the_charges_and_refunds_a_crashed_run_left() {
    let db = test_support::TempSqlite::new();
    crashed_work_is_taken_over(&db.url()).await;
}

#[tokio::test]
async fn on_mongodb_a_restart_takes_over_the_charges_and_refunds_a_crashed_run_left() {
    let Some(db) = test_support::TestMongo::new() else {
        return;
    };
    crashed_work_is_taken_over(&db.url).await;
    db.cleanup().await;
}

/// Leaves a charge `processing` and a refund `refunding` in the database at `url`, untouched for
/// ten minutes (their worker crashed), then starts the service on it: both are taken over and
/// finish, each with one provider call.
async fn crashed_work_is_taken_over(url: &str) {
    let user = new_id();
    let (charging, refunding) = (
        payment(&user, PaymentStatus::Processing),
        payment(&user, PaymentStatus::Processing),
    );
    {
        let store = payment_service::store::connect(url).await.unwrap();
        store.insert(&charging).await.unwrap();
        store.insert(&refunding).await.unwrap();
        let e = shared::events::EventEnvelope::new("PaymentProcessed", json!({}), "test");
        store
            .settle(
                &refunding.id,
                payment_service::store::Outcome::Charged {
                    transaction_id: "txn_old",
                },
                &e,
            )
            .await
            .unwrap()
            .unwrap();
        store.begin_refund(&refunding.id).await.unwrap().unwrap();
    }
    untouched_for_ten_minutes(url, &[&charging.id, &refunding.id]).await;
    let mut app = spawn_app_with(ScriptedProvider::new(), &[("DATABASE_URL", url)]).await;
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

/// Sets back the `updated_at` of payments `ids` in the database at `url` by ten minutes, as if
/// their worker had crashed that long ago.
async fn untouched_for_ten_minutes(url: &str, ids: &[&str]) {
    const TEN_MINUTES: i64 = 10 * 60 * 1000;
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    if url.starts_with("mongodb") {
        use mongodb::bson::doc;
        let db = shared::mongo::connect(url, "payments_test", "test", Default::default())
            .await
            .unwrap();
        db.collection::<mongodb::bson::Document>("payments")
            .update_many(
                doc! {"_id": {"$in": ids}},
                doc! {"$inc": {"updated_at": -TEN_MINUTES}},
            )
            .await
            .unwrap();
    } else {
        let db = shared::sqlite::Database::open(url).await.unwrap();
        db.write(move |tx| {
            for id in &ids {
                tx.execute(
                    "UPDATE payments SET updated_at = updated_at - ? WHERE id = ?",
                    rusqlite::params![TEN_MINUTES, id],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
}

/// Two replicas on one database. The first one's worker is charging a payment (the provider holds
/// the call) when it stops: it gives the claim back, and the second replica charges the payment
/// at once, long before the claim would have gone stale.
#[tokio::test]
async fn a_stopping_replica_gives_its_charge_back_to_the_other_at_once() {
    let db = test_support::TempSqlite::new();
    let url = db.url();
    let env = [("DATABASE_URL", url.as_str())];
    let mut first = spawn_app_with(ScriptedProvider::held(), &env).await;
    let (user, order) = (new_id(), new_id());
    first
        .post_events(TestApp::order_created(&order, &user, 3.0))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while first.provider.attempts.load(Ordering::SeqCst) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never charged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut second = spawn_app_with(ScriptedProvider::new(), &env).await;
    first.stop().await.unwrap();
    let started = tokio::time::Instant::now();
    second.wait_event("PaymentProcessed", &order).await;
    let store = payment_service::store::connect(&url).await.unwrap();
    let p = store.get_by_order(&order).await.unwrap().unwrap();
    assert_eq!(p.status, PaymentStatus::Completed);
    assert_eq!(second.provider.inner.charges_for(&p.id), 1);
    assert_eq!(first.provider.inner.charges_for(&p.id), 0, "cut short");
    // Taken up as given back, not as stale (that takes the retry budget + 30 s).
    assert!(started.elapsed() < Duration::from_secs(5));
    second.stop().await.unwrap();
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
    let mut app = spawn_app_with(ScriptedProvider::new(), &[("DATABASE_URL", url)]).await;
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
