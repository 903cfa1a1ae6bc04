//! Placing orders: pricing from the product service, reservation errors, idempotency, validation,
//! encrypted bodies.

use crate::helpers::*;
use serde_json::{json, Value};
use shared::payload::{MacPolicy, PayloadCipher};
use std::time::Duration;
use test_support::{ENCRYPTION_KEY, INTERNAL_TOKEN};

const MOUSE: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
const CABLE: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";
const GHOST: &str = "cccccccccccccccccccccccc";

async fn orders_of(app: &TestApp, token: &str) -> u64 {
    let body: Value = app.get("/api/orders", token).await.json().await.unwrap();
    body["pagination"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn create_order_answers_201_priced_by_the_product_service_and_publishes_order_created() {
    let mut app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(19.99), 10);
    app.products.add(CABLE, "Cable", json!(0.1), 10);
    let (user_id, token) = user();

    let order = app
        .place(&token, &[(MOUSE, 2), (CABLE, 3), (MOUSE, 1)])
        .await;

    assert_eq!(order["status"], "pending");
    assert_eq!(order["paymentStatus"], "pending");
    assert_eq!(order["userId"], json!(user_id));
    assert_eq!(order["totalAmount"], json!(60.27));
    assert_eq!(order["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        order["items"][0],
        json!({"productId": MOUSE, "name": "Mouse", "price": 19.99, "quantity": 3})
    );
    let reserved = app.products.reservations();
    assert_eq!(reserved.len(), 1);
    assert_eq!(reserved[0]["orderId"], order["_id"]);
    assert_eq!(
        reserved[0]["items"][0],
        json!({"productId": MOUSE, "quantity": 3})
    );
    assert_eq!(
        app.products.0.lock().unwrap().tokens,
        vec![INTERNAL_TOKEN.to_string()]
    );
    let event = app.next_event("OrderCreated").await;
    assert_eq!(event["data"]["orderId"], order["_id"]);
    assert_eq!(event["data"]["userId"], json!(user_id));
    assert_eq!(event["data"]["totalAmount"], json!(60.27));
    assert_eq!(event["source"], "order-service");
}

#[tokio::test]
async fn client_prices_are_refused_and_unknown_fields_are_validation_errors() {
    let app = spawn_app().await;
    let (_, token) = user();
    let mut body = order_body(&[(MOUSE, 1)]);
    body["items"][0]["price"] = json!(0.01);
    body["totalAmount"] = json!(0.01);

    let res = app.post("/api/orders", &token, &body).await;

    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["items.0.price", "totalAmount"]);
    assert!(app.products.reservations().is_empty());
}

#[tokio::test]
async fn validation_lists_every_bad_field_with_joi_messages() {
    let app = spawn_app().await;
    let (_, token) = user();
    let body = json!({"items": [{"productId": "xyz", "quantity": 1.5}, {"quantity": 1001}],
                      "shippingAddress": {"street": "", "city": "a".repeat(201), "zipCode": 5}});

    let res = app.post("/api/orders", &token, &body).await;

    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "validation_failed");
    let errors: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().into(),
                e["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |f: &str, m: &str| errors.iter().any(|(ef, em)| ef == f && em == m);
    assert!(
        has(
            "items.0.productId",
            "\"items[0].productId\" must be a valid id"
        ),
        "{errors:?}"
    );
    assert!(
        has(
            "items.0.quantity",
            "\"items[0].quantity\" must be an integer"
        ),
        "{errors:?}"
    );
    assert!(
        has("items.1.productId", "\"items[1].productId\" is required"),
        "{errors:?}"
    );
    assert!(
        has(
            "items.1.quantity",
            "\"items[1].quantity\" must be less than or equal to 1000"
        ),
        "{errors:?}"
    );
    assert!(
        has(
            "shippingAddress.street",
            "\"shippingAddress.street\" is not allowed to be empty"
        ),
        "{errors:?}"
    );
    assert!(
        has(
            "shippingAddress.zipCode",
            "\"shippingAddress.zipCode\" must be a string"
        ),
        "{errors:?}"
    );
    assert!(
        has(
            "shippingAddress.country",
            "\"shippingAddress.country\" is required"
        ),
        "{errors:?}"
    );

    let empty = app
        .post(
            "/api/orders",
            &token,
            &json!({"items": [], "shippingAddress": address()}),
        )
        .await;
    assert_eq!(empty.status(), 400);
    let too_many: Vec<(&str, i64)> = (0..51).map(|_| (MOUSE, 1)).collect();
    assert_eq!(
        app.post("/api/orders", &token, &order_body(&too_many))
            .await
            .status(),
        400
    );
    let malformed = app
        .http
        .post(format!("{}/api/orders", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Value>().await.unwrap()["code"],
        "malformed_json"
    );
}

#[tokio::test]
async fn unknown_product_answers_404_and_stores_no_order() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 5);
    let (_, token) = user();

    let res = app
        .post(
            "/api/orders",
            &token,
            &order_body(&[(MOUSE, 1), (GHOST, 1)]),
        )
        .await;

    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "product_not_found");
    assert_eq!(body["error"], format!("Product {GHOST} not found"));
    assert_eq!(orders_of(&app, &token).await, 0);
    assert_eq!(app.products.stock(MOUSE), 5);
}

#[tokio::test]
async fn insufficient_stock_answers_409_with_the_product_message_and_stores_no_order() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(10), 2);
    let (_, token) = user();

    let res = app
        .post(
            "/api/orders",
            &token,
            &order_body(&[(MOUSE, 2), (MOUSE, 1)]),
        )
        .await;

    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "insufficient_stock");
    assert_eq!(body["error"], "Insufficient stock for Mouse");
    assert_eq!(orders_of(&app, &token).await, 0);
}

#[tokio::test]
async fn product_service_down_answers_503_and_stores_no_order() {
    let app = spawn_app_with(Options {
        product_url: Some(test_support::refused_url()),
        ..Default::default()
    })
    .await;
    let (_, token) = user();

    let res = app
        .post("/api/orders", &token, &order_body(&[(MOUSE, 1)]))
        .await;

    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "Product service unavailable");
    assert_eq!(orders_of(&app, &token).await, 0);
}

#[tokio::test]
async fn slow_product_service_answers_504() {
    let app = spawn_app_with(Options {
        env: vec![("PRODUCT_TIMEOUT_MS", "200".into())],
        ..Default::default()
    })
    .await;
    app.products.add(MOUSE, "Mouse", json!(10), 5);
    app.products.0.lock().unwrap().delay = Some(Duration::from_secs(3));
    let (_, token) = user();

    let res = app
        .post("/api/orders", &token, &order_body(&[(MOUSE, 1)]))
        .await;

    assert_eq!(res.status(), 504);
    assert_eq!(orders_of(&app, &token).await, 0);
}

#[tokio::test]
async fn encrypted_bodies_are_decrypted_before_validation() {
    let app = spawn_app().await;
    app.products.add(MOUSE, "Mouse", json!(12.5), 5);
    let (_, token) = user();
    let cipher = PayloadCipher::new(ENCRYPTION_KEY, MacPolicy::Optional).unwrap();
    let plain = order_body(&[(MOUSE, 2)]).to_string();

    let res = app
        .post(
            "/api/orders",
            &token,
            &json!({"encrypted": cipher.encrypt(plain.as_bytes())}),
        )
        .await;
    let bad = app
        .post("/api/orders", &token, &json!({"encrypted": "00:11"}))
        .await;

    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.unwrap()["data"]["totalAmount"],
        json!(25)
    );
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["code"],
        "invalid_payload"
    );
}
