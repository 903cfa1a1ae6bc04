//! Reading the log: `GET /events` filters, limits and validation; `/health` counts; `/ready`;
//! unknown routes; and shutdown stopping the workers.

use crate::helpers::{spawn_app, stub, subscribers, Mode};
use serde_json::json;

#[tokio::test]
async fn listing_events_is_newest_first_filtered_by_type_and_limited() {
    let app = spawn_app(&[]).await;
    for (id, ty) in [
        ("l-1", "OrderCreated"),
        ("l-2", "PaymentProcessed"),
        ("l-3", "OrderCreated"),
    ] {
        assert_eq!(
            app.publish(&json!({"id": id, "type": ty, "data": {}}))
                .await
                .status(),
            202
        );
    }
    let ids = |v: serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(app.get_json("/events").await), ["l-3", "l-2", "l-1"]);
    assert_eq!(
        ids(app.get_json("/events?type=OrderCreated").await),
        ["l-3", "l-1"]
    );
    assert_eq!(
        ids(app.get_json("/events?type=OrderCreated&limit=1").await),
        ["l-3"]
    );
    assert!(ids(app.get_json("/events?type=Nothing").await).is_empty());
}

#[tokio::test]
async fn bad_list_parameters_are_400_validation_errors() {
    let app = spawn_app(&[]).await;
    for query in ["limit=0", "limit=501", "limit=abc", "colour=red"] {
        let res = app.get(&format!("/events?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "validation_failed", "{query}");
    }
    let res = app.get("/events/dead?limit=0").await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn every_endpoint_but_health_ready_and_metrics_needs_the_internal_token() {
    let mut sub = stub(Mode::Ok).await;
    let subs = subscribers(&[("orders", &sub)]);
    let app = spawn_app(&[("EVENT_SUBSCRIBERS", subs.as_str())]).await;
    app.publish(&json!({"id": "p-1", "type": "OrderCreated", "data": {"userId": "u-secret"}}))
        .await;
    sub.next().await;
    let calls = [
        ("GET", "/events"),
        ("GET", "/events?type=OrderCreated"),
        ("GET", "/events/dead"),
        ("POST", "/events"),
        ("POST", "/events/p-1/replay"),
    ];
    for (method, path) in calls {
        for token in [None, Some("wrong-token")] {
            let mut req = app
                .client
                .request(method.parse().unwrap(), format!("{}{path}", app.url));
            if let Some(t) = token {
                req = req.header("x-internal-token", t);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 401, "{method} {path} with {token:?}");
            let body = res.text().await.unwrap();
            assert!(body.contains("internal_token_invalid"), "{body}");
            assert!(!body.contains("u-secret"), "{method} {path} leaked: {body}");
        }
    }
    for path in ["/health", "/ready", "/metrics"] {
        let res = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let listed = app.get_json("/events").await;
    assert_eq!(listed["data"][0]["data"]["userId"], "u-secret");
}

#[tokio::test]
async fn health_reports_real_counts_of_events_pending_and_dead_deliveries() {
    let mut sub = stub(Mode::Ok).await;
    let subs = subscribers(&[("orders", &sub)]);
    let app = spawn_app(&[("EVENT_SUBSCRIBERS", subs.as_str())]).await;
    let health = app.get_json("/health").await;
    assert_eq!(
        health,
        json!({"status": "healthy", "service": "event-bus", "database": "up", "totalEvents": 0, "pending": 0, "dead": 0})
    );
    test_support::probe::assert_health_shape(&health, "event-bus");
    app.publish(
        &json!([{"id": "h-1", "type": "A", "data": {}}, {"id": "h-2", "type": "A", "data": {}}]),
    )
    .await;
    sub.next().await;
    sub.next().await;
    app.wait_for_event("h-2", |e| e["deliveries"][0]["status"] == "delivered")
        .await;
    app.health_where(|h| (&h["totalEvents"], &h["pending"]) == (&json!(2), &json!(0)))
        .await;
}

#[tokio::test]
async fn ready_answers_200_and_unknown_routes_get_the_json_404() {
    let app = spawn_app(&[]).await;
    let ready = app.get_json("/ready").await;
    assert_eq!(ready["status"], "ready");
    let res = app
        .client
        .get(format!("{}/nope", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers().contains_key("x-request-id"));
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["code"],
        "route_not_found"
    );
}

#[tokio::test]
async fn run_returns_once_shutdown_is_cancelled_even_with_a_delivery_in_flight() {
    let mut silent = stub(Mode::Hang).await;
    let subs = subscribers(&[("silent", &silent)]);
    let mut app = spawn_app(&[
        ("EVENT_SUBSCRIBERS", subs.as_str()),
        ("DELIVERY_TIMEOUT_MS", "60000"),
    ])
    .await;
    app.publish(&json!({"id": "x-1", "type": "A", "data": {}}))
        .await;
    silent.next().await;
    app.shutdown.cancel();
    let handle = app.handle.take().unwrap();
    let result = tokio::time::timeout(crate::helpers::PATIENCE, handle)
        .await
        .expect("run returns promptly")
        .unwrap();
    assert!(result.is_ok());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_deliveries_by_outcome() {
    let mut sub = stub(Mode::Ok).await;
    let subs = subscribers(&[("orders", &sub)]);
    let app = spawn_app(&[("EVENT_SUBSCRIBERS", subs.as_str())]).await;
    app.publish(&json!({"id": "m-1", "type": "A", "data": {}}))
        .await;
    sub.next().await;
    app.wait_for_event("m-1", |e| e["deliveries"][0]["status"] == "delivered")
        .await;
    let text = test_support::probe::metrics(&app.url).await;
    assert!(text.contains(
        "http_requests_total{service=\"event-bus\",method=\"POST\",route=\"/events\",status=\"202\"} 1"
    ), "{text}");
    assert!(text.contains(
        "http_request_duration_seconds_count{service=\"event-bus\",method=\"POST\",route=\"/events\"} 1"
    ), "{text}");
    assert!(
        text.contains(
            "event_bus_delivery_attempts_total{service=\"event-bus\",subscriber=\"orders\",outcome=\"delivered\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("event_bus_events{service=\"event-bus\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("event_bus_deliveries_pending{service=\"event-bus\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("event_bus_deliveries_dead{service=\"event-bus\"} 0\n"),
        "{text}"
    );
    test_support::probe::assert_build_and_process_samples(
        &text,
        "event-bus",
        env!("CARGO_PKG_VERSION"),
    );
}
