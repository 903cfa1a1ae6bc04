//! A stub product service following docs/internal-api.md that records reservations, releases and
//! the internal tokens it was given; it can answer slowly or fail releases on demand.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A product the stub knows: name, wire price, stock.
#[derive(Clone)]
pub struct StubProduct {
    pub name: String,
    pub price: Value,
    pub stock: i64,
}

#[derive(Default)]
pub struct StubData {
    pub products: HashMap<String, StubProduct>,
    /// Bodies of `POST /internal/reservations`.
    pub reservations: Vec<Value>,
    /// Order ids released.
    pub releases: Vec<String>,
    /// Internal tokens presented.
    pub tokens: Vec<String>,
    /// Delay before answering reservations.
    pub delay: Option<Duration>,
    /// How many release calls answer 503 before they succeed.
    pub failing_releases: usize,
    /// Release calls received, failed ones included.
    pub release_attempts: usize,
}

/// A stub product service following docs/internal-api.md.
#[derive(Clone, Default)]
pub struct ProductStub(pub Arc<Mutex<StubData>>);

impl ProductStub {
    pub fn add(&self, id: &str, name: &str, price: Value, stock: i64) {
        let p = StubProduct {
            name: name.into(),
            price,
            stock,
        };
        self.0.lock().unwrap().products.insert(id.into(), p);
    }
    pub fn stock(&self, id: &str) -> i64 {
        self.0.lock().unwrap().products[id].stock
    }
    pub fn reservations(&self) -> Vec<Value> {
        self.0.lock().unwrap().reservations.clone()
    }
    pub fn releases(&self) -> Vec<String> {
        self.0.lock().unwrap().releases.clone()
    }
    pub fn router(&self) -> Router {
        Router::new()
            .route("/internal/reservations", post(reserve))
            .route("/internal/reservations/{order_id}/release", post(release))
            .with_state(self.clone())
    }
}

fn token_of(headers: &HeaderMap) -> String {
    headers
        .get("x-internal-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn reserve(
    State(stub): State<ProductStub>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let delay = {
        let mut d = stub.0.lock().unwrap();
        d.reservations.push(body.clone());
        d.tokens.push(token_of(&headers));
        d.delay
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut d = stub.0.lock().unwrap();
    let lines = body["items"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for line in &lines {
        let id = line["productId"].as_str().unwrap_or("");
        let qty = line["quantity"].as_i64().unwrap_or(0);
        let Some(p) = d.products.get(id) else {
            let e = json!({"success": false, "error": format!("Product {id} not found"), "code": "product_not_found"});
            return (StatusCode::NOT_FOUND, Json(e));
        };
        if p.stock < qty {
            let e = json!({"success": false, "error": format!("Insufficient stock for {}", p.name), "code": "insufficient_stock"});
            return (StatusCode::CONFLICT, Json(e));
        }
        out.push(json!({"productId": id, "name": p.name, "price": p.price, "quantity": qty}));
    }
    for line in &lines {
        let id = line["productId"].as_str().unwrap_or("");
        let p = d.products.get_mut(id).unwrap();
        p.stock -= line["quantity"].as_i64().unwrap_or(0);
    }
    let data = json!({"orderId": body["orderId"], "status": "reserved", "items": out});
    (
        StatusCode::CREATED,
        Json(json!({"success": true, "data": data})),
    )
}

async fn release(
    State(stub): State<ProductStub>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> (StatusCode, Json<Value>) {
    let mut d = stub.0.lock().unwrap();
    d.tokens.push(token_of(&headers));
    d.release_attempts += 1;
    if d.failing_releases > 0 {
        d.failing_releases -= 1;
        let e = json!({"success": false, "error": "Product service unavailable", "code": "service_unavailable"});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(e));
    }
    d.releases.push(order_id.clone());
    let data = json!({"orderId": order_id, "status": "released"});
    (StatusCode::OK, Json(json!({"success": true, "data": data})))
}
