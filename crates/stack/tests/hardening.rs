//! End to end, the holes an outside attack found and their fixes: refunds only as the rules allow
//! (never "refunded and shipped" by a customer), forged sessions refused by every service, token
//! answers not cacheable, hostile bodies refused without building large trees, numbers kept exactly,
//! the event log closed to clients.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use shared::auth::JwtKeys;
use shared::platform::{TOKEN_AUDIENCE, TOKEN_ISSUER};
use stack::Service;

scenarios!(
    embedded,
    super::Backend::Embedded,
    [
        an_owner_refund_is_a_cancellation_and_only_an_admin_refunds_a_shipped_order,
        a_validly_signed_token_of_an_unknown_session_is_refused_by_every_service,
        token_answers_are_not_cacheable_and_hostile_bodies_are_4xx,
        numbers_survive_exactly_and_the_event_log_is_internal,
        refunds_cancels_and_shipping_racing_end_in_one_allowed_state,
    ]
);

// FerretDB does not make conditional updates atomic under concurrency, so the race runs on SQLite
// only (real MongoDB's single-document updates are atomic).
scenarios!(
    mongo_redis,
    super::Backend::MongoRedis,
    [
        an_owner_refund_is_a_cancellation_and_only_an_admin_refunds_a_shipped_order,
        a_validly_signed_token_of_an_unknown_session_is_refused_by_every_service,
        token_answers_are_not_cacheable_and_hostile_bodies_are_4xx,
        numbers_survive_exactly_and_the_event_log_is_internal,
    ]
);

async fn confirmed_order(t: &TestStack, user: &str, pid: &str, qty: i64) -> String {
    let (s, body) = t.place_order(user, &[(pid, qty)], None).await;
    assert_eq!(s, 201, "{body}");
    let oid = body["data"]["_id"].as_str().unwrap().to_string();
    t.wait_order(user, &oid, |o| o["status"] == "confirmed")
        .await;
    oid
}

async fn an_owner_refund_is_a_cancellation_and_only_an_admin_refunds_a_shipped_order(
    t: &mut TestStack,
) {
    let admin = t.login_admin().await;
    let pid = t.create_product(&admin, "REF1", 40.0, 10).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = t.register("Refund User", "refund@example.com").await;

    // While the order can still be cancelled, the owner's refund is a cancellation.
    let early = confirmed_order(t, &user, &pid, 2).await;
    assert_eq!(t.stock(&pid).await, 8);
    let (s, body) = t.refund(&user, &early).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["status"], "refunded");
    let o = t
        .wait_order(&user, &early, |o| o["paymentStatus"] == "refunded")
        .await;
    assert_eq!(o["status"], "cancelled");
    assert_eq!(t.stock(&pid).await, 10);

    // Once shipped, the owner gets 409 and keeps nothing for free; an admin may refund (a return).
    let shipped = confirmed_order(t, &user, &pid, 1).await;
    for step in ["processing", "shipped"] {
        let (s, body) = t.advance(&admin, &shipped, step).await;
        assert_eq!(s, 200, "{step}: {body}");
    }
    let (s, body) = t.refund(&user, &shipped).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("order_not_refundable")),
        "{body}"
    );
    assert_eq!(t.payment(&user, &shipped).await["status"], "completed");
    let (s, body) = t.refund(&admin, &shipped).await;
    assert_eq!(s, 200, "{body}");
    let o = t
        .wait_order(&user, &shipped, |o| o["paymentStatus"] == "refunded")
        .await;
    assert_eq!(o["status"], "shipped");
    assert_eq!(t.stock(&pid).await, 9, "shipped goods are not put back");
    let (s, body) = t.advance(&admin, &shipped, "delivered").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (409, Some("payment_not_completed")),
        "{body}"
    );

    // An admin's refund of an order not shipped yet cancels it and returns the stock.
    let processing = confirmed_order(t, &user, &pid, 3).await;
    assert_eq!(t.advance(&admin, &processing, "processing").await.0, 200);
    assert_eq!(t.refund(&admin, &processing).await.0, 200);
    let o = t
        .wait_order(&user, &processing, |o| o["paymentStatus"] == "refunded")
        .await;
    assert_eq!(o["status"], "cancelled");
    assert_eq!(t.stock(&pid).await, 9);
}

async fn a_validly_signed_token_of_an_unknown_session_is_refused_by_every_service(
    t: &mut TestStack,
) {
    let admin = t.login_admin().await;
    let claims = JwtKeys::new(JWT_SECRET, TOKEN_ISSUER, TOKEN_AUDIENCE)
        .verify(&admin)
        .unwrap();
    let forged = JwtKeys::new(JWT_SECRET, TOKEN_ISSUER, TOKEN_AUDIENCE)
        .issue(&claims.user_id, "admin", &shared::ids::new_object_id())
        .0;
    let some_id = "0123456789abcdef01234567";
    let calls = [
        (Service::Auth, "GET", "/api/auth/profile".to_string()),
        (Service::Auth, "GET", "/api/auth/users".to_string()),
        (Service::Products, "POST", "/api/products".to_string()),
        (Service::Orders, "GET", "/api/orders".to_string()),
        (Service::Payments, "GET", format!("/api/payments/{some_id}")),
    ];
    for (svc, method, path) in &calls {
        assert_ne!(t.direct(*svc, method, path, &admin).await, 401, "{path}");
        assert_eq!(t.direct(*svc, method, path, &forged).await, 401, "{path}");
    }
    for path in ["/api/orders", "/api/auth/verify", "/api/auth/users"] {
        let (s, body) = t.get(path, Some(&forged)).await;
        assert_eq!(s, 401, "{path}: {body}");
    }
}

async fn token_answers_are_not_cacheable_and_hostile_bodies_are_4xx(t: &mut TestStack) {
    let url = |path: &str| format!("{}{path}", t.client.base);
    let res = t
        .client
        .http
        .post(url("/api/auth/register"))
        .json(&json!({"name": "Cache", "email": "cache@example.com", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");

    // A megabyte of array where a string belongs: a 16 KiB auth body limit, a value budget elsewhere.
    let hostile = format!(r#"{{"name":[{}1]}}"#, "1,".repeat(500_000));
    let admin = t.login_admin().await;
    for (path, token, status) in [
        ("/api/auth/login", None, 413),
        ("/api/products", Some(&admin), 400),
    ] {
        let mut req = t
            .client
            .http
            .post(url(path))
            .header("content-type", "application/json")
            .body(hostile.clone());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
    }
    let mut product = json!({
        "name": "Evil", "description": "x", "price": 1, "stock": 1, "category": "c", "sku": "EVIL1",
        "metadata": {"$where": "1"}
    });
    let (s, body) = t.post("/api/products", &product, Some(&admin)).await;
    assert_eq!(s, 400, "{body}");
    assert_eq!(body["errors"][0]["field"], "metadata.$where");
    product["metadata"] = json!({});
    product["name"] = json!("Evil\u{0}");
    let (s, body) = t.post("/api/products", &product, Some(&admin)).await;
    assert_eq!(
        (s, body["errors"][0]["field"].as_str()),
        (400, Some("name"))
    );
}

async fn numbers_survive_exactly_and_the_event_log_is_internal(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let product = r#"{"name": "Exact", "description": "x", "price": 1, "stock": 1, "category": "c",
        "sku": "EXACT1", "metadata": {"ratio": 0.9259398872314291, "tiny": 1e-7}}"#;
    let (_, sealed) = t
        .post(
            "/api/dev/encrypt",
            &json!({"payload": serde_json::from_str::<Value>(product).unwrap()}),
            None,
        )
        .await;
    let (s, body) = t
        .post(
            "/api/products",
            &json!({"encrypted": sealed["encrypted"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let id = body["data"]["_id"].as_str().unwrap();
    let (_, read) = t.get(&format!("/api/products/{id}"), None).await;
    assert_eq!(
        read["data"]["metadata"]["ratio"].to_string(),
        "0.9259398872314291"
    );
    assert_eq!(read["data"]["metadata"]["tiny"].as_f64(), Some(1e-7));

    let bus = t.stack.url(Service::Events);
    for path in ["/events", "/events/dead", "/events?type=OrderCreated"] {
        let res = t
            .client
            .http
            .get(format!("{bus}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    let res = t
        .client
        .http
        .get(format!("{bus}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// For each of several confirmed orders, the owner's refund, the owner's cancel and the admin's
/// step to processing race. Whoever wins, the order ends in one allowed state.
async fn refunds_cancels_and_shipping_racing_end_in_one_allowed_state(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let pid = t.create_product(&admin, "RACEREF", 10.0, 100).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = t.register("Racer", "race-refund@example.com").await;
    let mut orders = Vec::new();
    for _ in 0..8 {
        orders.push(confirmed_order(t, &user, &pid, 1).await);
    }
    let mut payment_ids = Vec::new();
    for oid in &orders {
        payment_ids.push(
            t.payment(&admin, oid).await["_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut races = Vec::new();
    for (oid, pay) in orders.iter().zip(&payment_ids) {
        let c = t.client_handle();
        let (user, admin, oid, pay) = (user.clone(), admin.clone(), oid.clone(), pay.clone());
        races.push(tokio::spawn(async move {
            let refund_path = format!("/api/payments/{pay}/refund");
            let cancel_path = format!("/api/orders/{oid}/cancel");
            let status_path = format!("/api/orders/{oid}/status");
            let (empty, step) = (json!({}), json!({"status": "processing"}));
            let (refund, cancel, advance) = tokio::join!(
                c.send("POST", &refund_path, Some(&empty), Some(&user)),
                c.send("PUT", &cancel_path, Some(&empty), Some(&user)),
                c.send("PUT", &status_path, Some(&step), Some(&admin)),
            );
            (oid, refund, cancel, advance)
        }));
    }
    let mut cancelled = 0;
    for race in races {
        let (oid, refund, cancel, advance) = race.await.unwrap();
        if advance.0 == 200 {
            // Fulfilment won: nothing was cancelled or refunded.
            assert_eq!(
                (refund.0, refund.1["code"].as_str()),
                (409, Some("order_not_refundable")),
                "{refund:?}"
            );
            assert_eq!(cancel.0, 409, "{cancel:?}");
            let o = t.get(&format!("/api/orders/{oid}"), Some(&user)).await.1["data"].clone();
            assert_eq!(
                (o["status"].as_str(), o["paymentStatus"].as_str()),
                (Some("processing"), Some("completed"))
            );
            assert_eq!(t.payment(&user, &oid).await["status"], "completed");
        } else {
            // A cancellation won: fulfilment was refused and the money goes back exactly once.
            assert_eq!(advance.0, 409, "{advance:?}");
            assert!(refund.0 == 200 || cancel.0 == 200, "{refund:?} {cancel:?}");
            let o = t
                .wait_order(&user, &oid, |o| o["paymentStatus"] == "refunded")
                .await;
            assert_eq!(o["status"], "cancelled");
            assert_eq!(t.payment(&user, &oid).await["status"], "refunded");
            cancelled += 1;
        }
    }
    t.wait_stock(&pid, 100 - 8 + cancelled).await;
    // No order can be moved along once its money went back.
    for oid in &orders {
        let o: Value = t.get(&format!("/api/orders/{oid}"), Some(&user)).await.1["data"].clone();
        if o["status"] == "processing" {
            assert_eq!(t.advance(&admin, oid, "shipped").await.0, 200);
        } else {
            assert_eq!(t.advance(&admin, oid, "processing").await.0, 409);
        }
    }
}
