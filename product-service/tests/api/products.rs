//! Product writes and reads over HTTP: RBAC, the answer's shape, SKU conflicts, full and partial
//! updates, soft delete. Invalid, hostile and encrypted bodies are in `bodies.rs`.

use crate::helpers::{product_body, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn create_product_needs_a_token_then_the_admin_role() {
    let app = spawn_app().await;
    let body = Some(product_body("RBAC-1"));
    let r = app
        .call(Method::POST, "/api/products", None, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_eq!(r.body["success"], false);
    let user = app.user();
    let r = app
        .call(Method::POST, "/api/products", Some(&user), body.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body["code"], "forbidden");
    let admin = app.admin();
    let r = app
        .call(Method::POST, "/api/products", Some(&admin), body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn every_admin_write_refuses_a_plain_user() {
    let app = spawn_app().await;
    let id = app.create(product_body("RBAC-2")).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = app.user();
    let path = format!("/api/products/{id}");
    for (method, body) in [
        (Method::PUT, Some(product_body("RBAC-2"))),
        (Method::PATCH, Some(json!({"name": "New name"}))),
        (Method::DELETE, None),
    ] {
        let r = app
            .call(method.clone(), &path, Some(&user), body.clone())
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method}");
        let r = app.call(method.clone(), &path, None, body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method}");
    }
}

#[tokio::test]
async fn created_product_has_the_original_json_shape() {
    let app = spawn_app().await;
    let mut body = product_body("  SHAPE-1  ");
    body["images"] = json!(["https://cdn.example.com/1.png"]);
    body["metadata"] = json!({"brand": "Acme"});
    let p = app.create(body).await;
    assert!(shared::ids::is_object_id(p["_id"].as_str().unwrap()));
    assert_eq!(p["price"], json!(19.99));
    assert_eq!(p["stock"], 10);
    assert_eq!(p["sku"], "SHAPE-1", "sku is stored trimmed");
    assert_eq!(p["isActive"], true);
    assert_eq!(p["images"][0], "https://cdn.example.com/1.png");
    assert_eq!(p["metadata"]["brand"], "Acme");
    assert!(p["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(p.get("__v").is_none());
    let read = app
        .get(
            &format!("/api/products/{}", p["_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(read.body["data"], p);
}

#[tokio::test]
async fn duplicate_sku_is_409_on_create_and_update() {
    let app = spawn_app().await;
    let admin = app.admin();
    app.create(product_body("DUP-1")).await;
    let r = app
        .call(
            Method::POST,
            "/api/products",
            Some(&admin),
            Some(product_body("DUP-1")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["code"], "sku_taken");
    let other = app.create(product_body("DUP-2")).await;
    let path = format!("/api/products/{}", other["_id"].as_str().unwrap());
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"sku": "DUP-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(product_body("DUP-1")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn get_product_answers_400_for_a_bad_id_and_404_for_an_unknown_one() {
    let app = spawn_app().await;
    let r = app.get("/api/products/not-an-id", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["code"], "invalid_id");
    let r = app
        .get("/api/products/aaaaaaaaaaaaaaaaaaaaaaaa", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["code"], "product_not_found");
    assert_eq!(r.body["error"], "Product not found");
}

#[tokio::test]
async fn public_reads_ignore_a_bad_bearer_token_but_never_treat_it_as_admin() {
    let app = spawn_app().await;
    let admin = app.admin();
    let p = app.create(product_body("OPT-1")).await;
    let path = format!("/api/products/{}", p["_id"].as_str().unwrap());
    assert_eq!(app.get(&path, Some("garbage")).await.status, StatusCode::OK);
    app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(
        app.get(&path, Some("garbage")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn put_needs_the_full_product_and_patch_any_nonempty_subset() {
    let app = spawn_app().await;
    let admin = app.admin();
    let p = app.create(product_body("UPD-1")).await;
    let path = format!("/api/products/{}", p["_id"].as_str().unwrap());
    let r = app
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"name": "Only name"})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "PUT wants every required field"
    );
    let mut full = product_body("UPD-1");
    full["price"] = json!(5);
    let r = app.call(Method::PUT, &path, Some(&admin), Some(full)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["price"], 5);
    let r = app
        .call(Method::PATCH, &path, Some(&admin), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["errors"][0]["message"],
        "\"value\" must have at least 1 key"
    );
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"stock": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (
            r.body["data"]["stock"].as_i64(),
            r.body["data"]["price"].as_i64()
        ),
        (Some(3), Some(5))
    );
    let missing = "/api/products/aaaaaaaaaaaaaaaaaaaaaaaa";
    let r = app
        .call(
            Method::PATCH,
            missing,
            Some(&admin),
            Some(json!({"stock": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn soft_deleted_product_is_404_for_the_public_and_visible_to_admins() {
    let app = spawn_app().await;
    let admin = app.admin();
    let p = app.create(product_body("DEL-1")).await;
    let path = format!("/api/products/{}", p["_id"].as_str().unwrap());
    assert_eq!(app.get(&path, None).await.status, StatusCode::OK);
    let r = app.call(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["isActive"], false);
    assert_eq!(app.get(&path, None).await.status, StatusCode::NOT_FOUND);
    let user = app.user();
    assert_eq!(
        app.get(&path, Some(&user)).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app.get(&path, Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["isActive"], false);
    assert_eq!(
        app.get("/api/products", None).await.body["pagination"]["total"],
        0
    );
}
