//! `POST /events`: internal token, validation, the 202 answer and idempotency by id.

use crate::helpers::{spawn_app, stub, subscribers, Mode};
use serde_json::json;
use test_support::INTERNAL_TOKEN;

#[tokio::test]
async fn publishing_without_the_internal_token_is_rejected_with_401() {
    let app = spawn_app(&[]).await;
    let body = json!({"type": "OrderCreated", "data": {}});
    for token in [None, Some("wrong-token")] {
        let mut req = app.client.post(format!("{}/events", app.url)).json(&body);
        if let Some(t) = token {
            req = req.header("x-internal-token", t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        let err: serde_json::Value = res.json().await.unwrap();
        assert_eq!(err["code"], "internal_token_invalid");
        assert_eq!(err["success"], false);
    }
    assert_eq!(app.get_json("/events").await["data"], json!([]));
}

#[tokio::test]
async fn a_single_event_is_stored_and_answered_with_202_and_its_id() {
    let app = spawn_app(&[]).await;
    let res = app
        .publish(
            &json!({"type": "OrderCreated", "data": {"orderId": "o1"}, "source": "order-service"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["status"], "OK");
    let id = body["data"]["ids"][0].as_str().unwrap().to_string();
    assert!(shared::ids::is_object_id(&id));
    let listed = app.get_json("/events").await;
    let e = &listed["data"][0];
    assert_eq!(e["id"], id.as_str());
    assert_eq!(e["type"], "OrderCreated");
    assert_eq!(e["data"], json!({"orderId": "o1"}));
    assert_eq!(e["source"], "order-service");
    assert!(e["occurredAt"].as_str().unwrap().ends_with('Z'));
    assert!(e["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(e["deliveries"], json!([]));
}

#[tokio::test]
async fn validation_errors_list_every_bad_field_with_its_index() {
    let app = spawn_app(&[]).await;
    let res = app
        .publish(&json!([
            {"type": "OrderCreated", "data": {}},
            {"data": "text", "id": ""},
            {"type": "x".repeat(101), "data": {}, "color": "red"}
        ]))
        .await;
    assert_eq!(res.status(), 400);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["code"], "validation_failed");
    let fields: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["1.type", "1.data", "1.id", "2.type", "2.color"]);
    assert_eq!(err["errors"][0]["message"], "\"1.type\" is required");
    // Nothing of a rejected batch is stored.
    assert_eq!(app.get_json("/events").await["data"], json!([]));
}

#[tokio::test]
async fn malformed_non_json_and_oversized_bodies_get_json_4xx_answers() {
    let app = spawn_app(&[]).await;
    let post = |body: String, ct: &'static str| {
        app.client
            .post(format!("{}/events", app.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let res = post("{nope".into(), "application/json").await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["code"],
        "malformed_json"
    );
    let res = post("{}".into(), "text/plain").await.unwrap();
    assert_eq!(res.status(), 415);
    let big = format!(
        "{{\"type\":\"A\",\"data\":{{\"x\":\"{}\"}}}}",
        "a".repeat(1024 * 1024)
    );
    let res = post(big, "application/json").await.unwrap();
    assert_eq!(res.status(), 413);
    let too_many: Vec<_> = (0..501).map(|_| json!({"type": "A", "data": {}})).collect();
    let res = app.publish(&json!(too_many)).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_repeated_event_id_is_accepted_again_without_a_second_delivery() {
    let mut sub = stub(Mode::Ok).await;
    let subs = subscribers(&[("orders", &sub)]);
    let app = spawn_app(&[("EVENT_SUBSCRIBERS", subs.as_str())]).await;
    let event = json!({"id": "evt-1", "type": "PaymentProcessed", "data": {"orderId": "o1"}});
    assert_eq!(app.publish(&event).await.status(), 202);
    assert_eq!(sub.next().await.body["id"], "evt-1");
    app.wait_for_event("evt-1", |e| e["deliveries"][0]["status"] == "delivered")
        .await;
    let res = app.publish(&json!([event.clone(), event])).await;
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["data"]["ids"], json!(["evt-1", "evt-1"]));
    // A later event is delivered; had evt-1 been queued again, it would arrive first.
    app.publish(&json!({"id": "evt-2", "type": "PaymentProcessed", "data": {}}))
        .await;
    assert_eq!(sub.next().await.body["id"], "evt-2");
    app.health_where(|h| h["totalEvents"] == 2).await;
    assert_eq!(
        app.get_json("/events").await["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
