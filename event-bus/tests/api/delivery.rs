//! Background fan-out: every subscriber gets each event of the types it subscribed to, with the
//! internal token; failures are retried with backoff and dead-lettered; replay redelivers; a slow
//! or failing subscriber delays nobody else. Deliveries across restarts, stops and concurrency
//! limits are in `lifecycle.rs`.

use crate::helpers::{delivery, spawn_app, stub, subscribers, Mode, FAST_RETRIES};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use test_support::INTERNAL_TOKEN;
use tokio::sync::Notify;

#[tokio::test]
async fn events_are_delivered_to_every_subscriber_with_the_envelope_and_internal_token() {
    let mut orders = stub(Mode::Ok).await;
    let mut payments = stub(Mode::Ok).await;
    let subs = subscribers(&[("orders", &orders), ("payments", &payments)]);
    let app = spawn_app(&[("EVENT_SUBSCRIBERS", subs.as_str())]).await;
    let res = app
        .publish(&json!({
            "id": "e-1", "type": "OrderCreated", "data": {"orderId": "o1", "totalAmount": 12.5},
            "source": "order-service", "occurredAt": "2026-11-25T10:00:00.000Z"
        }))
        .await;
    assert_eq!(res.status(), 202);
    let expected = json!({
        "id": "e-1", "type": "OrderCreated", "data": {"orderId": "o1", "totalAmount": 12.5},
        "occurredAt": "2026-11-25T10:00:00.000Z", "source": "order-service"
    });
    for sub in [&mut orders, &mut payments] {
        let got = sub.next().await;
        assert_eq!(got.body, expected);
        assert_eq!(got.token.as_deref(), Some(INTERNAL_TOKEN));
    }
    let e = app
        .wait_for_event("e-1", |e| {
            e["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["status"] == "delivered")
        })
        .await;
    let d = delivery(&e, "orders");
    assert_eq!(d["attempts"], 1);
    assert!(d["deliveredAt"].as_str().unwrap().ends_with('Z'));
    assert!(d.get("lastError").is_none());
}

#[tokio::test]
async fn a_subscriber_failing_twice_gets_the_event_on_retry_while_the_other_got_it_at_once() {
    let mut flaky = stub(Mode::FailFirst(2)).await;
    let mut steady = stub(Mode::Ok).await;
    let subs = subscribers(&[("flaky", &flaky), ("steady", &steady)]);
    let mut env = vec![
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DELIVERY_MAX_ATTEMPTS", "5"),
    ];
    env.extend(&FAST_RETRIES[..2]);
    let app = spawn_app(&env).await;
    app.publish(&json!({"id": "e-2", "type": "OrderCreated", "data": {}}))
        .await;
    assert_eq!(steady.next().await.body["id"], "e-2");
    for _ in 0..3 {
        assert_eq!(flaky.next().await.body["id"], "e-2");
    }
    let e = app
        .wait_for_event("e-2", |e| delivery(e, "flaky")["status"] == "delivered")
        .await;
    assert_eq!(delivery(&e, "flaky")["attempts"], 3);
    assert_eq!(
        delivery(&e, "flaky")["lastError"],
        "subscriber answered 500"
    );
    assert_eq!(delivery(&e, "steady")["attempts"], 1);
    assert_eq!(steady.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_subscriber_that_never_answers_is_dead_lettered_then_replay_redelivers() {
    let mut silent = stub(Mode::Hang).await;
    let subs = subscribers(&[("silent", &silent)]);
    let mut env = vec![
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DELIVERY_TIMEOUT_MS", "100"),
    ];
    env.extend(FAST_RETRIES);
    let app = spawn_app(&env).await;
    app.publish(&json!({"id": "e-3", "type": "PaymentFailed", "data": {"orderId": "o3"}}))
        .await;
    let e = app
        .wait_for_event("e-3", |e| delivery(e, "silent")["status"] == "dead")
        .await;
    assert_eq!(delivery(&e, "silent")["attempts"], 3);
    assert_eq!(
        delivery(&e, "silent")["lastError"],
        "no answer within 100 ms"
    );
    assert_eq!(silent.calls.load(Ordering::SeqCst), 3);
    let dead = app.get_json("/events/dead").await;
    assert_eq!(dead["data"].as_array().unwrap().len(), 1);
    assert_eq!(dead["data"][0]["subscriber"], "silent");
    assert_eq!(dead["data"][0]["status"], "dead");
    assert_eq!(dead["data"][0]["event"]["id"], "e-3");
    assert_eq!(dead["data"][0]["event"]["data"], json!({"orderId": "o3"}));
    app.health_where(|h| (&h["dead"], &h["pending"]) == (&json!(1), &json!(0)))
        .await;

    while silent.rx.try_recv().is_ok() {}
    let res = app
        .client
        .post(format!("{}/events/e-3/replay", app.url))
        .header("x-internal-token", INTERNAL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["data"], json!({"id": "e-3", "queued": 1}));
    assert_eq!(silent.next().await.body["id"], "e-3");
    app.wait_for_event("e-3", |e| delivery(e, "silent")["status"] == "dead")
        .await;
    assert_eq!(silent.calls.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn replay_redelivers_a_delivered_event_and_needs_the_token_and_a_known_id() {
    let mut sub = stub(Mode::Ok).await;
    let subs = subscribers(&[("orders", &sub)]);
    let app = spawn_app(&[("EVENT_SUBSCRIBERS", subs.as_str())]).await;
    app.publish(&json!({"id": "e-4", "type": "OrderUpdated", "data": {}}))
        .await;
    assert_eq!(sub.next().await.body["id"], "e-4");
    app.wait_for_event("e-4", |e| delivery(e, "orders")["status"] == "delivered")
        .await;
    let replay = |id: &str, token: &'static str| {
        app.client
            .post(format!("{}/events/{id}/replay", app.url))
            .header("x-internal-token", token)
            .send()
    };
    assert_eq!(replay("e-4", "bad").await.unwrap().status(), 401);
    let res = replay("unknown-id", INTERNAL_TOKEN).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["code"],
        "event_not_found"
    );
    // An id that does not decode (not UTF-8) is a malformed request, not an unknown event.
    let res = replay("%FF", INTERNAL_TOKEN).await.unwrap();
    assert_eq!(res.status(), 400);
    let body = res.json::<serde_json::Value>().await.unwrap();
    assert_eq!(
        (&body["code"], &body["error"]),
        (&json!("invalid_id"), &json!("Invalid event id"))
    );
    assert_eq!(replay("e-4", INTERNAL_TOKEN).await.unwrap().status(), 200);
    assert_eq!(sub.next().await.body["id"], "e-4");
    assert_eq!(sub.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_slow_subscriber_does_not_delay_delivery_to_the_other() {
    let release = Arc::new(Notify::new());
    let mut slow = stub(Mode::WaitFor(release.clone())).await;
    let mut fast = stub(Mode::Ok).await;
    let subs = subscribers(&[("slow", &slow), ("fast", &fast)]);
    // A long attempt timeout: the slow subscriber must hold s-1 until it is released.
    let app = spawn_app(&[
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DELIVERY_TIMEOUT_MS", "60000"),
    ])
    .await;
    app.publish(&json!([
        {"id": "s-1", "type": "A", "data": {}},
        {"id": "s-2", "type": "A", "data": {}}
    ]))
    .await;
    assert_eq!(slow.next().await.body["id"], "s-1");
    // The slow subscriber is still holding s-1 while the fast one gets both events.
    assert_eq!(fast.next().await.body["id"], "s-1");
    assert_eq!(fast.next().await.body["id"], "s-2");
    let e = app
        .wait_for_event("s-2", |e| delivery(e, "fast")["status"] == "delivered")
        .await;
    assert_eq!(delivery(&e, "slow")["status"], "pending");
    release.notify_one();
    assert_eq!(slow.next().await.body["id"], "s-2");
    release.notify_one();
    app.wait_for_event("s-2", |e| delivery(e, "slow")["status"] == "delivered")
        .await;
}

#[tokio::test]
async fn a_failing_event_does_not_block_later_events_of_the_same_subscriber() {
    let mut sub = stub(Mode::FailFirst(1)).await;
    let subs = subscribers(&[("orders", &sub)]);
    let app = spawn_app(&[
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DELIVERY_BACKOFF_MS", "300"),
        ("DELIVERY_BACKOFF_MAX_MS", "300"),
    ])
    .await;
    app.publish(&json!([
        {"id": "f-1", "type": "A", "data": {}},
        {"id": "f-2", "type": "A", "data": {}}
    ]))
    .await;
    let order: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(sub.next().await.body["id"].as_str().unwrap().to_string());
        }
        v
    };
    // f-1 fails first; f-2 goes through before f-1's retry comes due.
    assert_eq!(order, ["f-1", "f-2", "f-1"]);
}

/// Subscriptions by type: each subscriber gets only the types it subscribed to, whether the
/// deliveries are handed over at publish time or (with one attempt at a time) claimed from the
/// store, and an event no one wants is stored with no delivery.
#[tokio::test]
async fn subscribers_get_only_the_event_types_they_subscribed_to() {
    for concurrency in ["64", "1"] {
        let mut orders = stub(Mode::Ok).await;
        let mut payments = stub(Mode::Ok).await;
        let subs = subscribers(&[("orders", &orders), ("payments", &payments)]);
        let app = spawn_app(&[
            ("EVENT_SUBSCRIBERS", subs.as_str()),
            (
                "EVENT_SUBSCRIPTIONS",
                "orders=PaymentProcessed|PaymentFailed,payments=OrderCreated",
            ),
            ("DELIVERY_CONCURRENCY", concurrency),
        ])
        .await;
        let res = app
            .publish(&json!([
                {"id": "o-1", "type": "OrderCreated", "data": {}},
                {"id": "u-1", "type": "OrderUpdated", "data": {}},
                {"id": "p-1", "type": "PaymentProcessed", "data": {}},
                {"id": "o-2", "type": "OrderCreated", "data": {}}
            ]))
            .await;
        assert_eq!(res.status(), 202);
        assert_eq!(orders.next().await.body["id"], "p-1");
        let to_payments = [payments.next().await, payments.next().await];
        let mut got: Vec<_> = to_payments.iter().map(|r| r.body["id"].clone()).collect();
        got.sort_by_key(ToString::to_string);
        assert_eq!(
            got,
            [json!("o-1"), json!("o-2")],
            "concurrency {concurrency}"
        );
        for id in ["o-1", "p-1", "o-2"] {
            app.wait_for_event(id, |e| {
                e["deliveries"]
                    .as_array()
                    .is_some_and(|d| d.len() == 1 && d[0]["status"] == "delivered")
            })
            .await;
        }
        let unwanted = app
            .wait_for_event("u-1", |e| e["deliveries"].as_array().is_some())
            .await;
        assert_eq!(unwanted["deliveries"], json!([]));
        assert_eq!(orders.calls.load(Ordering::SeqCst), 1);
        assert_eq!(payments.calls.load(Ordering::SeqCst), 2);
    }
}
