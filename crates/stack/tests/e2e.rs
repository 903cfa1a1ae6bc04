//! End to end: all six services in-process on ephemeral ports, driven through the gateway.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use stack::Service;

scenarios!(
    embedded,
    super::Backend::Embedded,
    [
        readme_flow_reaches_a_confirmed_order,
        encrypted_login_works_in_legacy_and_mac_forms,
        refresh_rotates_and_reuse_ends_the_session,
        logout_is_refused_by_every_service,
        roles_and_ownership_are_enforced,
        cancel_returns_stock_and_refunds_the_payment,
        forty_concurrent_orders_on_stock_ten_never_oversell,
        orders_placed_while_the_bus_is_down_are_confirmed_when_it_returns,
        bad_input_gets_json_errors_and_changes_nothing,
    ]
);

// The same scenarios with every service on MongoDB and Redis (MONGO_TEST_URL, REDIS_TEST_URL;
// FerretDB in CI). The oversell race is not here: FerretDB does not make conditional updates
// atomic under concurrency (real MongoDB does), so that guarantee is proven on SQLite above.
scenarios!(
    mongo_redis,
    super::Backend::MongoRedis,
    [
        readme_flow_reaches_a_confirmed_order,
        encrypted_login_works_in_legacy_and_mac_forms,
        refresh_rotates_and_reuse_ends_the_session,
        logout_is_refused_by_every_service,
        roles_and_ownership_are_enforced,
        cancel_returns_stock_and_refunds_the_payment,
        orders_placed_while_the_bus_is_down_are_confirmed_when_it_returns,
        bad_input_gets_json_errors_and_changes_nothing,
    ]
);

async fn readme_flow_reaches_a_confirmed_order(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let product = t.create_product(&admin, "LAP001", 999.99, 50).await;
    let pid = product["_id"].as_str().unwrap().to_string();
    let user = t.register("John Doe", "john@example.com").await;

    let (status, body) = t.place_order(&user, &[(&pid, 2)], None).await;
    assert_eq!(status, 201, "{body}");
    let order = &body["data"];
    assert_eq!(order["status"], "pending");
    assert_eq!(order["paymentStatus"], "pending");
    assert_eq!(order["totalAmount"], json!(1999.98));
    let oid = order["_id"].as_str().unwrap();

    let confirmed = t
        .wait_order(&user, oid, |o| o["status"] == "confirmed")
        .await;
    assert_eq!(confirmed["paymentStatus"], "completed");
    assert_eq!(t.stock(&pid).await, 48);

    let payment = t.get(&format!("/api/payments/{oid}"), Some(&user)).await;
    assert_eq!(payment.0, 200, "{}", payment.1);
    assert_eq!(payment.1["data"]["status"], "completed");
    assert_eq!(payment.1["data"]["amount"], json!(1999.98));
}

async fn encrypted_login_works_in_legacy_and_mac_forms(t: &mut TestStack) {
    t.register("Enc User", "enc@example.com").await;
    let payload = json!({"payload": {"email": "enc@example.com", "password": "password123"}});
    let (s, mac) = t.post("/api/dev/encrypt", &payload, None).await;
    assert_eq!(s, 200, "{mac}");
    let mac_form = mac["encrypted"].as_str().unwrap().to_string();
    assert_eq!(mac_form.split(':').count(), 3);
    let mut legacy_req = payload.clone();
    legacy_req["legacy"] = json!(true);
    let (_, legacy) = t.post("/api/dev/encrypt", &legacy_req, None).await;
    let legacy_form = legacy["encrypted"].as_str().unwrap().to_string();
    assert_eq!(legacy_form.split(':').count(), 2);
    for form in [mac_form, legacy_form] {
        let (s, body) = t
            .post("/api/auth/login", &json!({"encrypted": form}), None)
            .await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(body["data"]["user"]["email"], "enc@example.com");
    }
    let (s, body) = t
        .post("/api/auth/login", &json!({"encrypted": "00:zz"}), None)
        .await;
    assert_eq!(s, 400);
    assert_eq!(body["error"], "Invalid encrypted payload");
}

async fn refresh_rotates_and_reuse_ends_the_session(t: &mut TestStack) {
    let (_, body) = t
        .post(
            "/api/auth/register",
            &json!({"name": "Ref User", "email": "ref@example.com", "password": "password123"}),
            None,
        )
        .await;
    let first = body["data"]["refreshToken"].as_str().unwrap().to_string();
    let (s, rotated) = t
        .post("/api/auth/refresh", &json!({"refreshToken": first}), None)
        .await;
    assert_eq!(s, 200, "{rotated}");
    let second = rotated["data"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let access = rotated["data"]["accessToken"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(t.get("/api/auth/profile", Some(&access)).await.0, 200);

    // Reusing the first token ends the whole family: the new refresh and access tokens die too.
    let (s, _) = t
        .post("/api/auth/refresh", &json!({"refreshToken": first}), None)
        .await;
    assert_eq!(s, 401);
    let (s, _) = t
        .post("/api/auth/refresh", &json!({"refreshToken": second}), None)
        .await;
    assert_eq!(s, 401);
    assert_eq!(t.get("/api/auth/profile", Some(&access)).await.0, 401);
}

async fn logout_is_refused_by_every_service(t: &mut TestStack) {
    let user = t.register("Out User", "out@example.com").await;
    let some_id = "0123456789abcdef01234567";
    let direct = [
        (Service::Auth, "GET", "/api/auth/profile".to_string()),
        (Service::Products, "POST", "/api/products".to_string()),
        (Service::Orders, "GET", "/api/orders".to_string()),
        (Service::Payments, "GET", format!("/api/payments/{some_id}")),
    ];
    for (svc, method, path) in &direct {
        let s = t.direct(*svc, method, path, &user).await;
        assert_ne!(s, 401, "{path} refused a live token");
    }
    let (s, body) = t.post("/api/auth/logout", &json!({}), Some(&user)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["message"], "Logged out successfully");
    for (svc, method, path) in &direct {
        assert_eq!(
            t.direct(*svc, method, path, &user).await,
            401,
            "{path} accepted a logged-out token"
        );
    }
    assert_eq!(t.get("/api/orders", Some(&user)).await.0, 401);
    assert_eq!(t.get("/api/auth/verify", Some(&user)).await.0, 401);
}

async fn roles_and_ownership_are_enforced(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let alice = t.register("Alice", "alice@example.com").await;
    let bob = t.register("Bob", "bob@example.com").await;
    let product = json!({"name": "Desk", "description": "Oak", "price": 10, "stock": 5, "category": "Home", "sku": "DSK1"});
    assert_eq!(t.post("/api/products", &product, None).await.0, 401);
    assert_eq!(t.post("/api/products", &product, Some(&alice)).await.0, 403);
    let (s, _) = t
        .post(
            "/api/auth/register",
            &json!({"name": "Mallory", "email": "m@example.com", "password": "password123", "role": "admin"}),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let created = t.create_product(&admin, "DSK1", 10.0, 5).await;
    let pid = created["_id"].as_str().unwrap();
    let (s, body) = t.place_order(&alice, &[(pid, 1)], None).await;
    assert_eq!(s, 201, "{body}");
    let oid = body["data"]["_id"].as_str().unwrap();
    assert_eq!(
        t.get(&format!("/api/orders/{oid}"), Some(&bob)).await.0,
        404
    );
    assert_eq!(
        t.get(&format!("/api/orders/{oid}"), Some(&alice)).await.0,
        200
    );
    assert_eq!(
        t.get(&format!("/api/orders/{oid}"), Some(&admin)).await.0,
        200
    );
}

async fn cancel_returns_stock_and_refunds_the_payment(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let pid = t.create_product(&admin, "CAN1", 25.5, 10).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = t.register("Can User", "can@example.com").await;
    let (_, body) = t.place_order(&user, &[(&pid, 3)], None).await;
    let oid = body["data"]["_id"].as_str().unwrap().to_string();
    t.wait_order(&user, &oid, |o| o["status"] == "confirmed")
        .await;
    assert_eq!(t.stock(&pid).await, 7);

    let (s, body) = t
        .put(&format!("/api/orders/{oid}/cancel"), &json!({}), &user)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    t.wait_order(&user, &oid, |o| o["paymentStatus"] == "refunded")
        .await;
    assert_eq!(t.stock(&pid).await, 10);
    let payment = t.get(&format!("/api/payments/{oid}"), Some(&user)).await.1;
    assert_eq!(payment["data"]["status"], "refunded");
    let (s, _) = t
        .put(&format!("/api/orders/{oid}/cancel"), &json!({}), &user)
        .await;
    assert_eq!(s, 409);
}

async fn forty_concurrent_orders_on_stock_ten_never_oversell(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let pid = t.create_product(&admin, "RACE1", 5.0, 10).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(t.register("Racer", &format!("racer{i}@example.com")).await);
    }
    let mut tasks = Vec::new();
    for i in 0..40 {
        let t2 = t.client_handle();
        let token = users[i % 4].clone();
        let pid = pid.clone();
        tasks.push(tokio::spawn(async move {
            t2.place_order(&token, &[(&pid, 1)], None).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (s, body) = task.await.unwrap();
        match s {
            201 => created += 1,
            409 => assert_eq!(body["code"], "insufficient_stock", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 10);
    assert_eq!(t.stock(&pid).await, 0);
}

async fn orders_placed_while_the_bus_is_down_are_confirmed_when_it_returns(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let pid = t.create_product(&admin, "BUS1", 3.0, 100).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = t.register("Bus User", "bus@example.com").await;
    t.stack.stop(Service::Events).await.unwrap();

    let mut ids = Vec::new();
    for _ in 0..10 {
        let (s, body) = t.place_order(&user, &[(&pid, 1)], None).await;
        assert_eq!(s, 201, "{body}");
        ids.push(body["data"]["_id"].as_str().unwrap().to_string());
    }
    t.stack.restart(Service::Events).await.unwrap();
    for id in &ids {
        let o = t
            .wait_order(&user, id, |o| o["status"] == "confirmed")
            .await;
        assert_eq!(o["paymentStatus"], "completed");
        assert_eq!(
            t.charges_for_order(&user, id).await,
            1,
            "order {id} charged more than once"
        );
    }
    assert_eq!(t.stock(&pid).await, 90);
}

async fn bad_input_gets_json_errors_and_changes_nothing(t: &mut TestStack) {
    let admin = t.login_admin().await;
    let p1 = t.create_product(&admin, "BAD1", 1.0, 5).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let p2 = t.create_product(&admin, "BAD2", 1.0, 1).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = t.register("Bad User", "bad@example.com").await;

    // A refused order leaves every stock unchanged.
    let (s, body) = t.place_order(&user, &[(&p1, 2), (&p2, 5)], None).await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(t.stock(&p1).await, 5);
    assert_eq!(t.stock(&p2).await, 1);

    let (s, body) = t
        .post(
            "/api/orders",
            &json!({"items": [{"productId": 1, "quantity": 0}], "x": 1}),
            Some(&user),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(body["code"], "validation_failed");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"items.0.productId") && fields.contains(&"items.0.quantity"),
        "{body}"
    );
    assert!(
        fields.contains(&"shippingAddress") && fields.contains(&"x"),
        "{body}"
    );

    let res = t
        .raw_post("/api/auth/login", "{not json", "application/json")
        .await;
    assert_eq!(res.0, 400);
    assert_eq!(res.1["code"], "malformed_json");
    let res = t
        .raw_post(
            "/api/auth/login",
            "email=a",
            "application/x-www-form-urlencoded",
        )
        .await;
    assert_eq!(res.0, 415);
    assert_eq!(t.get("/api/products/not-an-id", None).await.0, 400);
    let (s, body) = t.get("/api/nothing-here", None).await;
    assert_eq!(s, 404);
    assert_eq!(body["success"], false);
}

/// The launcher's demo catalogue: loaded before the services start, visible at once through the
/// gateway, and loading it again on the same data adds nothing.
#[tokio::test]
async fn the_demo_catalogue_loads_once() {
    let data = test_support::TempSqlite::new();
    let dir = std::path::PathBuf::from(data.url().trim_start_matches("sqlite://"))
        .parent()
        .unwrap()
        .to_path_buf();
    for expected in [stack::demo::PRODUCTS.len(), 0] {
        let started = stack::Stack::start(stack::StackOptions {
            data_dir: dir.clone(),
            host: "127.0.0.1".parse().unwrap(),
            ports: std::collections::HashMap::new(),
            env: test_support::test_env(),
            payment_provider: None,
            demo_data: true,
        })
        .await
        .unwrap();
        assert_eq!(started.demo_added(), Some(expected));
        let url = format!("{}/api/products?limit=100", started.url(Service::Gateway));
        let page: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        assert_eq!(page["pagination"]["total"], stack::demo::PRODUCTS.len());
        let categories: std::collections::BTreeSet<_> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["category"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(categories.len(), 6);
        assert!(page["data"][0]["images"][0]
            .as_str()
            .unwrap()
            .starts_with("https://"));
        started.shutdown().await.unwrap();
    }
}

#[test]
fn launcher_ports_come_from_their_variables() {
    use stack::StackOptions;
    let env = shared::config::Env::from_pairs([("GATEWAY_PORT", "8080"), ("EVENT_BUS_PORT", "0")]);
    let ports = StackOptions::ports_from(&env).unwrap();
    assert_eq!(ports[&Service::Gateway], 8080);
    assert_eq!(ports[&Service::Events], 0, "any free port");
    assert_eq!(ports[&Service::Auth], 4001, "the usual port otherwise");
    let bad = shared::config::Env::from_pairs([("ORDER_PORT", "70000")]);
    let err = StackOptions::ports_from(&bad).unwrap_err().to_string();
    assert!(err.contains("ORDER_PORT") && err.contains("70000"), "{err}");
}
