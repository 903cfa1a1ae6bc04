//! `GET /api/products`: filters, sort, paging and query validation.

use crate::helpers::{product_body, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::json;

async fn seed(app: &TestApp) {
    for (sku, name, price, category) in [
        ("S-1", "Red 100% Cotton Shirt", 15.5, "Clothing"),
        ("S-2", "Laptop", 999.99, "Electronics"),
        ("S-3", "Phone", 499.0, "Electronics"),
    ] {
        let mut body = product_body(sku);
        body["name"] = json!(name);
        body["price"] = json!(price);
        body["category"] = json!(category);
        app.create(body).await;
    }
}

fn skus(body: &serde_json::Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_defaults_to_newest_first_with_pagination() {
    let app = spawn_app().await;
    seed(&app).await;
    let r = app.get("/api/products", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(skus(&r.body), ["S-3", "S-2", "S-1"]);
    assert_eq!(
        r.body["pagination"],
        json!({"page": 1, "limit": 20, "total": 3, "pages": 1})
    );
    let r = app
        .get("/api/products?page=2&limit=2&sort=price", None)
        .await;
    assert_eq!(skus(&r.body), ["S-2"]);
    assert_eq!(
        r.body["pagination"],
        json!({"page": 2, "limit": 2, "total": 3, "pages": 2})
    );
}

#[tokio::test]
async fn list_filters_by_category_price_range_and_search() {
    let app = spawn_app().await;
    seed(&app).await;
    let r = app
        .get("/api/products?category=Electronics&sort=-price", None)
        .await;
    assert_eq!(skus(&r.body), ["S-2", "S-3"]);
    let r = app
        .get("/api/products?minPrice=15.5&maxPrice=499&sort=name", None)
        .await;
    assert_eq!(skus(&r.body), ["S-3", "S-1"]);
    let r = app.get("/api/products?search=LAPTOP", None).await;
    assert_eq!(skus(&r.body), ["S-2"], "search ignores case");
    let r = app.get("/api/products?search=100%25", None).await;
    assert_eq!(skus(&r.body), ["S-1"]);
    let r = app.get("/api/products?search=_", None).await;
    assert_eq!(r.body["pagination"]["total"], 0, "_ is not a wildcard");
}

#[tokio::test]
async fn bad_list_parameters_are_400() {
    let app = spawn_app().await;
    for query in [
        "limit=0",
        "limit=101",
        "page=0",
        "page=abc",
        "sort=stock",
        "minPrice=cheap",
        "maxPrice=1.001",
        "color=red",
    ] {
        let r = app.get(&format!("/api/products?{query}"), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(r.body["code"], "validation_failed", "{query}");
    }
    let r = app.get("/api/products?color=red", None).await;
    assert_eq!(r.body["errors"][0]["message"], "\"color\" is not allowed");
}

#[tokio::test]
async fn every_documented_sort_key_works_both_ways() {
    let app = spawn_app().await;
    seed(&app).await;
    for (sort, expected) in [
        ("createdAt", ["S-1", "S-2", "S-3"]),
        ("-createdAt", ["S-3", "S-2", "S-1"]),
        ("price", ["S-1", "S-3", "S-2"]),
        ("-price", ["S-2", "S-3", "S-1"]),
        ("name", ["S-2", "S-3", "S-1"]),
        ("-name", ["S-1", "S-3", "S-2"]),
    ] {
        let r = app.get(&format!("/api/products?sort={sort}"), None).await;
        assert_eq!(r.status, StatusCode::OK, "{sort}: {}", r.body);
        assert_eq!(skus(&r.body), expected, "{sort}");
    }
}

#[tokio::test]
async fn admins_list_the_inactive_products_and_no_one_else_may() {
    let app = spawn_app().await;
    seed(&app).await;
    let admin = app.admin();
    let phone = app.get("/api/products?search=Phone", None).await.body["data"][0]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/products/{phone}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);

    let r = app.get("/api/products?isActive=false", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(skus(&r.body), ["S-3"]);
    assert_eq!(r.body["data"][0]["isActive"], false);
    assert_eq!(r.body["pagination"]["total"], 1);
    let r = app.get("/api/products?isActive=true", Some(&admin)).await;
    assert_eq!(
        skus(&r.body),
        ["S-2", "S-1"],
        "the active ones, as without the filter"
    );

    let user = app.user();
    for token in [Some(user.as_str()), None, Some("not-a-token")] {
        let r = app.get("/api/products?isActive=false", token).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{token:?}: {}", r.body);
        assert_eq!(r.body["code"], "forbidden");
        assert_eq!(r.body["error"], "Only admins may list inactive products");
    }
    let r = app.get("/api/products", Some(&user)).await;
    assert_eq!(
        skus(&r.body),
        ["S-2", "S-1"],
        "customers see the active ones"
    );
    let r = app.get("/api/products?isActive=no", Some(&admin)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["errors"][0]["field"], "isActive");
}
