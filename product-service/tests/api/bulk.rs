//! `POST /api/products/bulk`: public, active products only, request order, validated ids.

use crate::helpers::{product_body, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn bulk_returns_active_products_in_request_order() {
    let app = spawn_app().await;
    let admin = app.admin();
    let a = app.create(product_body("BULK-1")).await["_id"].clone();
    let b = app.create(product_body("BULK-2")).await["_id"].clone();
    let c = app.create(product_body("BULK-3")).await["_id"].clone();
    let del = format!("/api/products/{}", b.as_str().unwrap());
    app.call(Method::DELETE, &del, Some(&admin), None).await;
    let ids = json!({"ids": [c, "aaaaaaaaaaaaaaaaaaaaaaaa", b, a]});
    let r = app
        .call(Method::POST, "/api/products/bulk", None, Some(ids))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let got: Vec<_> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["_id"].clone())
        .collect();
    assert_eq!(got, [c, a]);
}

#[tokio::test]
async fn bulk_rejects_bad_ids_too_many_ids_and_a_missing_body() {
    let app = spawn_app().await;
    let bulk = "/api/products/bulk";
    let r = app
        .call(Method::POST, bulk, None, Some(json!({"ids": ["nope"]})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["field"], "ids.0");
    let many: Vec<String> = (0..101).map(|i| format!("{i:024x}")).collect();
    let r = app
        .call(Method::POST, bulk, None, Some(json!({"ids": many})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app.call(Method::POST, bulk, None, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["message"], "\"ids\" is required");
}
