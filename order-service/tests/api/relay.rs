//! The outbox relay: orders never wait for the bus, and events reach it once it is up. Shutdown.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;
use test_support::TestServer;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const MOUSE: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test]
async fn with_the_bus_down_orders_still_answer_201_and_the_event_arrives_once_it_is_up() {
    // Bound but not serving: the bus accepts no request until the stub starts on this listener.
    let bus_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bus_url = format!("http://{}", bus_listener.local_addr().unwrap());
    let app = spawn_app_with(Options {
        bus_url: Some(bus_url),
        ..Default::default()
    })
    .await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();

    let started = tokio::time::Instant::now();
    let order = app.place(&token, &[(MOUSE, 1)]).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the request waited for the bus"
    );
    // `/health` is refreshed in the background: wait for it to count the undelivered event.
    let health = test_support::probe::health_when(&app.url, |h| h["outboxPending"] == 1).await;
    test_support::probe::assert_health_shape(&health, "order-service");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let _bus = TestServer::start_on(bus_listener, bus_router(tx));
    let event = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("event not delivered")
        .unwrap();

    assert_eq!(event["type"], "OrderCreated");
    assert_eq!(event["data"]["orderId"], order["_id"]);
    test_support::probe::health_when(&app.url, |h| h["outboxPending"] == 0).await;
}

#[tokio::test]
async fn run_returns_after_shutdown_with_its_workers_stopped() {
    let app = spawn_app().await;

    app.shutdown.cancel();
    let result = tokio::time::timeout(DEADLINE, app.handle)
        .await
        .expect("run did not return");

    assert!(result.unwrap().is_ok());
}

#[tokio::test]
async fn events_the_bus_refuses_are_retried_until_it_acknowledges() {
    use axum::http::StatusCode;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let refusals = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let counter = refusals.clone();
    let bus = axum::Router::new().route(
        "/events",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let (counter, tx) = (counter.clone(), tx.clone());
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < 2 {
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        axum::Json(json!({"success": false})),
                    );
                }
                let _ = tx.send(v);
                (StatusCode::ACCEPTED, axum::Json(json!({"success": true})))
            }
        }),
    );
    let bus = TestServer::start(bus).await;
    let app = spawn_app_with(Options {
        bus_url: Some(bus.url.clone()),
        ..Default::default()
    })
    .await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();

    let order = app.place(&token, &[(MOUSE, 1)]).await;
    let batch = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("never acknowledged")
        .unwrap();

    assert_eq!(batch[0]["data"]["orderId"], order["_id"]);
    assert_eq!(refusals.load(Ordering::SeqCst), 3);
}
