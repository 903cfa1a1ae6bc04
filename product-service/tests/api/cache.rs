//! The read cache never serves a value older than the last write, and a failing cache backend
//! falls back to the database.

use crate::helpers::{product_body, spawn_app, spawn_app_with};
use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::cache::{Cache, CacheError};
use shared::platform::Backends;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn update_then_read_returns_the_new_value_immediately() {
    let app = spawn_app().await;
    let admin = app.admin();
    let p = app.create(product_body("CACHE-1")).await;
    let path = format!("/api/products/{}", p["_id"].as_str().unwrap());
    // Warm both caches.
    assert_eq!(
        app.get(&path, None).await.body["data"]["name"],
        "Product CACHE-1"
    );
    assert_eq!(
        app.get("/api/products", None).await.body["data"][0]["name"],
        "Product CACHE-1"
    );
    let r = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get(&path, None).await.body["data"]["name"], "Renamed");
    assert_eq!(
        app.get("/api/products", None).await.body["data"][0]["name"],
        "Renamed"
    );
    // Creating a product shows up in the cached list at once too.
    app.create(product_body("CACHE-2")).await;
    assert_eq!(
        app.get("/api/products", None).await.body["pagination"]["total"],
        2
    );
}

#[tokio::test]
async fn stock_changes_by_reservation_are_visible_immediately() {
    let app = spawn_app().await;
    let p = app.create(product_body("CACHE-3")).await;
    let id = p["_id"].as_str().unwrap();
    assert_eq!(app.stock_of(id).await, 10);
    let body =
        json!({"orderId": "0000000000000000000000f1", "items": [{"productId": id, "quantity": 4}]});
    assert_eq!(
        app.internal("/internal/reservations", body).await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.stock_of(id).await, 6);
    let r = app
        .internal(
            "/internal/reservations/0000000000000000000000f1/release",
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.stock_of(id).await, 10);
}

/// A cache whose backend is down.
struct DownCache;

#[async_trait]
impl Cache for DownCache {
    async fn get(&self, _: &str) -> Result<Option<Bytes>, CacheError> {
        Err(CacheError("down".into()))
    }
    async fn set(&self, _: &str, _: Bytes, _: Duration) -> Result<(), CacheError> {
        Err(CacheError("down".into()))
    }
    async fn delete(&self, _: &str) -> Result<(), CacheError> {
        Err(CacheError("down".into()))
    }
    async fn generation(&self, _: &str) -> Result<u64, CacheError> {
        Err(CacheError("down".into()))
    }
    async fn bump(&self, _: &str) -> Result<u64, CacheError> {
        Err(CacheError("down".into()))
    }
}

#[tokio::test]
async fn a_failing_cache_falls_back_to_the_database() {
    let backends = Backends {
        cache: Arc::new(DownCache),
        ..test_support::backends().await
    };
    let app = spawn_app_with(backends).await;
    let p = app.create(product_body("DOWN-1")).await;
    let r = app
        .get(
            &format!("/api/products/{}", p["_id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get("/api/products", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["pagination"]["total"], 1);
}
