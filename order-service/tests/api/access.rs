//! Who sees which orders: owners, admins, strangers, anonymous callers; lists and paging.

use crate::helpers::*;
use serde_json::{json, Value};

const MOUSE: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test]
async fn another_users_order_is_404_for_reading_and_cancelling() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, owner) = user();
    let (_, stranger) = user();
    let order = app.place(&owner, &[(MOUSE, 1)]).await;
    let id = order["_id"].as_str().unwrap();

    let read = app.get(&format!("/api/orders/{id}"), &stranger).await;
    let cancel = app
        .put(&format!("/api/orders/{id}/cancel"), &stranger, &json!({}))
        .await;
    let own = app.get(&format!("/api/orders/{id}"), &owner).await;
    let by_admin = app.get(&format!("/api/orders/{id}"), &admin()).await;

    assert_eq!(read.status(), 404);
    assert_eq!(
        read.json::<Value>().await.unwrap()["code"],
        "order_not_found"
    );
    assert_eq!(cancel.status(), 404);
    assert_eq!(own.json::<Value>().await.unwrap()["data"]["_id"], json!(id));
    assert_eq!(by_admin.status(), 200);
}

#[tokio::test]
async fn users_list_their_own_orders_newest_first_and_admins_list_all_or_one_user() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 100);
    let (alice_id, alice) = user();
    let (_, bob) = user();
    let mut alice_orders = Vec::new();
    for _ in 0..3 {
        alice_orders.push(app.place(&alice, &[(MOUSE, 1)]).await["_id"].clone());
    }
    app.place(&bob, &[(MOUSE, 1)]).await;

    let page: Value = app
        .get("/api/orders?page=1&limit=2", &alice)
        .await
        .json()
        .await
        .unwrap();
    let all: Value = app.get("/api/orders", &admin()).await.json().await.unwrap();
    let filtered: Value = app
        .get(&format!("/api/orders?userId={alice_id}"), &admin())
        .await
        .json()
        .await
        .unwrap();
    let pending: Value = app
        .get("/api/orders?status=cancelled", &alice)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        page["pagination"],
        json!({"page": 1, "limit": 2, "total": 3, "pages": 2})
    );
    let ids: Vec<Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["_id"].clone())
        .collect();
    assert_eq!(ids, vec![alice_orders[2].clone(), alice_orders[1].clone()]);
    assert_eq!(all["pagination"]["total"], 4);
    assert_eq!(filtered["pagination"]["total"], 3);
    assert_eq!(pending["pagination"]["total"], 0);
}

#[tokio::test]
async fn bad_list_parameters_and_ids_are_400_and_other_users_filter_is_403() {
    let app = spawn_app().await;
    let (_, token) = user();

    let limit = app.get("/api/orders?limit=0", &token).await;
    let status = app.get("/api/orders?status=lost&page=-1", &token).await;
    let unknown = app.get("/api/orders?sort=price", &token).await;
    let bad_id = app.get("/api/orders/not-an-id", &token).await;
    let other = app
        .get(
            &format!("/api/orders?userId={}", shared::ids::new_object_id()),
            &token,
        )
        .await;

    assert_eq!(limit.status(), 400);
    let status: Value = status.json().await.unwrap();
    assert_eq!(status["errors"].as_array().unwrap().len(), 2);
    assert_eq!(unknown.status(), 400);
    assert_eq!(bad_id.status(), 400);
    assert_eq!(bad_id.json::<Value>().await.unwrap()["code"], "invalid_id");
    assert_eq!(other.status(), 403);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401_in_the_envelope() {
    let app = spawn_app().await;

    let none = app
        .http
        .get(format!("{}/api/orders", app.url))
        .send()
        .await
        .unwrap();
    let bad = app.get("/api/orders", "not-a-token").await;

    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(none.json::<Value>().await.unwrap()["success"], false);
    assert_eq!(bad.status(), 401);
}

#[tokio::test]
async fn health_and_ready_need_no_auth_and_unknown_routes_are_json_404() {
    let app = spawn_app().await;

    let health = test_support::probe::health(&app.url).await;
    let ready = test_support::probe::ready(&app.url).await;
    let missing = app
        .http
        .get(format!("{}/nope", app.url))
        .send()
        .await
        .unwrap();

    assert_eq!(
        health,
        json!({"status": "healthy", "service": "order-service", "outboxPending": 0, "database": "up"})
    );
    assert_eq!(ready.status, 200);
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
    assert_eq!(
        missing.json::<Value>().await.unwrap()["code"],
        "route_not_found"
    );
}

#[tokio::test]
async fn metrics_count_requests_and_orders_in_prometheus_text() {
    // Bound but not serving: the bus takes no event, so the outbox backlog stays at one.
    let bus_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = spawn_app_with(Options {
        bus_url: Some(format!("http://{}", bus_listener.local_addr().unwrap())),
        ..Default::default()
    })
    .await;
    app.products.add(MOUSE, "Mouse", json!(10), 10);
    let (_, token) = user();
    app.place(&token, &[(MOUSE, 1)]).await;
    let missing = app
        .post(
            "/api/orders",
            &token,
            &order_body(&[("dddddddddddddddddddddddd", 1)]),
        )
        .await;
    assert_eq!(missing.status(), 404);

    let text = test_support::probe::metrics(&app.url).await;
    test_support::probe::assert_samples(
        &text,
        &[
            r#"http_requests_total{service="order-service",method="POST",route="/api/orders",status="201"} 1"#,
            r#"http_request_duration_seconds_count{service="order-service",method="POST",route="/api/orders"} 2"#,
            r#"order_events_total{service="order-service",event="order_created",outcome="created"} 1"#,
            r#"order_events_total{service="order-service",event="order_rejected",outcome="product_not_found"} 1"#,
        ],
    );
    test_support::probe::assert_build_and_process_samples(
        &text,
        "order-service",
        env!("CARGO_PKG_VERSION"),
    );
    assert!(
        text.contains("# TYPE order_outbox_pending gauge\norder_outbox_pending{service=\"order-service\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_on_the_services_port_without_auth() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/orders/{id}/cancel"]["put"].is_object());
    assert!(
        doc["paths"].get("/internal/orders/{id}/refund").is_none(),
        "the internal API is not in the public document"
    );
}

#[tokio::test]
async fn the_internal_document_is_served_to_the_services_only() {
    let app = spawn_app().await;
    let url = format!("{}/internal/openapi.json", app.url);
    let refused = app.http.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["code"], "internal_token_invalid");
    let res = app
        .http
        .get(&url)
        .header("x-internal-token", test_support::INTERNAL_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(doc["paths"]["/internal/orders/{id}/refund"]["post"].is_object());
    assert!(doc["paths"]["/events"]["post"].is_object());
    assert!(
        doc["paths"].get("/api/orders").is_none(),
        "only the internal API"
    );
}
