//! Deliveries in flight across a bus's life: pending ones survive a restart, a stopping bus gives
//! back what it had in flight, attempts per subscriber stay within `DELIVERY_CONCURRENCY`, and one
//! attempt at a time keeps arrival order.

use crate::helpers::{delivery, spawn_app, stub, subscribers, Mode};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use test_support::INTERNAL_TOKEN;

#[tokio::test]
async fn pending_deliveries_stored_before_a_restart_are_delivered_after_it() {
    let dir = std::env::temp_dir().join(format!("event-bus-api-{}", shared::ids::new_object_id()));
    let db = format!("sqlite://{}/events.db", dir.display());
    let mut sub = stub(Mode::Ok).await;
    let subs = subscribers(&[("orders", &sub)]);
    let env = [
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DATABASE_URL", db.as_str()),
    ];
    {
        // Only the router: events are stored but no worker runs, as if the bus stopped at once.
        let mut e = test_support::test_env();
        for (k, v) in env {
            e = e.with(k, v);
        }
        let config = event_bus::config::Config::from_env(&e).unwrap();
        let app = event_bus::build(config, shared::platform::Backends::in_process())
            .await
            .unwrap();
        let server = test_support::TestServer::start(app.router()).await;
        let res = reqwest::Client::new()
            .post(format!("{}/events", server.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(&json!({"id": "r-1", "type": "OrderCreated", "data": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
    }
    assert_eq!(sub.calls.load(Ordering::SeqCst), 0);
    let app = spawn_app(&env).await;
    assert_eq!(sub.next().await.body["id"], "r-1");
    app.wait_for_event("r-1", |e| delivery(e, "orders")["status"] == "delivered")
        .await;
    drop(app);
    let _ = std::fs::remove_dir_all(dir);
}

/// A subscriber that holds every request for `hold`, recording the most it held at once and
/// every event id it got.
async fn holding_stub(
    hold: std::time::Duration,
) -> (
    test_support::TestServer,
    Arc<std::sync::Mutex<(u32, u32, Vec<String>)>>,
) {
    use axum::routing::post;
    // (in flight now, most in flight at once, ids received)
    let seen = Arc::new(std::sync::Mutex::new((0u32, 0u32, Vec::new())));
    let state = seen.clone();
    let router = axum::Router::new().route(
        "/events",
        post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let seen = state.clone();
            async move {
                {
                    let mut s = seen.lock().unwrap();
                    s.0 += 1;
                    s.1 = s.1.max(s.0);
                    s.2.push(body["id"].as_str().unwrap_or_default().to_string());
                }
                tokio::time::sleep(hold).await;
                seen.lock().unwrap().0 -= 1;
                axum::Json(json!({"success": true}))
            }
        }),
    );
    (test_support::TestServer::start(router).await, seen)
}

#[tokio::test]
async fn deliveries_in_flight_per_subscriber_stay_within_delivery_concurrency() {
    let (server, seen) = holding_stub(std::time::Duration::from_millis(100)).await;
    let subs = format!("slow={}", server.url);
    let app = spawn_app(&[
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DELIVERY_CONCURRENCY", "3"),
    ])
    .await;
    let events: Vec<_> = (0..12)
        .map(|i| json!({"id": format!("c-{i:02}"), "type": "OrderCreated", "data": {}}))
        .collect();
    assert_eq!(app.publish(&json!(events)).await.status(), 202);
    for i in 0..12 {
        app.wait_for_event(&format!("c-{i:02}"), |e| {
            delivery(e, "slow")["status"] == "delivered"
        })
        .await;
    }
    let (now, most, mut ids) = seen.lock().unwrap().clone();
    assert_eq!(now, 0);
    // Attempts overlap (three at a time), never more than the setting allows.
    assert_eq!(most, 3, "most in flight at once");
    ids.sort();
    let expected: Vec<String> = (0..12).map(|i| format!("c-{i:02}")).collect();
    assert_eq!(ids, expected, "each event exactly once");
}

#[tokio::test]
async fn a_stopping_bus_gives_back_the_deliveries_it_had_in_flight() {
    let dir = std::env::temp_dir().join(format!("event-bus-api-{}", shared::ids::new_object_id()));
    let db = format!("sqlite://{}/events.db", dir.display());
    let mut silent = stub(Mode::Hang).await;
    let subs = subscribers(&[("orders", &silent)]);
    let app = spawn_app(&[
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DATABASE_URL", db.as_str()),
        ("DELIVERY_TIMEOUT_MS", "60000"),
    ])
    .await;
    for id in ["s-1", "s-2"] {
        let res = app
            .publish(&json!({"id": id, "type": "OrderCreated", "data": {}}))
            .await;
        assert_eq!(res.status(), 202);
    }
    silent.next().await;
    silent.next().await;
    // Both are in flight, leased for the timeout and more; stopping gives them back, so a bus
    // started next delivers them at once rather than after the lease.
    app.stop().await;
    let store = event_bus::store::connect(&db, shared::mongo::MongoOptions::default())
        .await
        .unwrap();
    let now = shared::store::now_ms();
    let due = store
        .claim(event_bus::store::Claim {
            subscriber: "orders",
            now,
            lease_until: now,
            limit: 10,
        })
        .await
        .unwrap();
    let mut ids: Vec<_> = due.iter().map(|d| d.event_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["s-1", "s-2"]);
    assert!(due.iter().all(|d| d.attempts == 0));
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn one_attempt_at_a_time_keeps_arrival_order_for_events_published_while_it_works() {
    let (server, seen) = holding_stub(std::time::Duration::from_millis(100)).await;
    let subs = format!("ordered={}", server.url);
    let app = spawn_app(&[
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DELIVERY_CONCURRENCY", "1"),
    ])
    .await;
    let publish = |i: u32| {
        let body = json!({"id": format!("o-{i}"), "type": "OrderCreated", "data": {}});
        let app = &app;
        async move { assert_eq!(app.publish(&body).await.status(), 202) }
    };
    for i in 1..=6 {
        publish(i).await;
    }
    // Once the second is being delivered, publish the seventh: it must still come after the
    // sixth, however the six before it are queued.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.lock().unwrap().2.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second delivery");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    publish(7).await;
    app.wait_for_event("o-7", |e| delivery(e, "ordered")["status"] == "delivered")
        .await;
    let ids = seen.lock().unwrap().2.clone();
    let expected: Vec<String> = (1..=7).map(|i| format!("o-{i}")).collect();
    assert_eq!(ids, expected);
}
