//! `spawn_app`: the service on 127.0.0.1:0 with stub order service and event bus, an injected
//! scripted provider, tokens, and helpers to drive it and wait for emitted events.

pub use crate::scripted::ScriptedProvider;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use payment_service::config::Config;
use serde_json::{json, Value};
use shared::config::Env;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use test_support::{TestServer, INTERNAL_TOKEN};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

/// Holds the stub order service's next refund answer until the test lets it go.
#[derive(Default)]
pub struct RefundHold {
    armed: std::sync::atomic::AtomicBool,
    reached: tokio::sync::Notify,
    resume: tokio::sync::Notify,
}

impl RefundHold {
    /// The next refund the stub decides is held after its decision.
    pub fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits until a refund is held.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held refund answer.
    pub fn resume(&self) {
        self.resume.notify_one();
    }
}

#[derive(Clone, Default)]
struct StubOrders {
    orders: Arc<Mutex<HashMap<String, Value>>>,
    hold: Arc<RefundHold>,
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub provider: Arc<ScriptedProvider>,
    pub orders: Arc<Mutex<HashMap<String, Value>>>,
    pub refund_hold: Arc<RefundHold>,
    bus: UnboundedReceiver<Value>,
    seen: Vec<Value>,
    shutdown: CancellationToken,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _servers: Vec<TestServer>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ScriptedProvider::new(), &[]).await
}

/// Starts the service with `provider` and extra environment variables.
pub async fn spawn_app_with(provider: ScriptedProvider, env: &[(&str, &str)]) -> TestApp {
    spawn(Some(provider), env).await
}

/// Starts the service through `build`, with the simulated provider the environment configures
/// (`TestApp::provider` is then unused).
pub async fn spawn_app_simulated(env: &[(&str, &str)]) -> TestApp {
    spawn(None, env).await
}

async fn spawn(scripted: Option<ScriptedProvider>, env: &[(&str, &str)]) -> TestApp {
    let stub = StubOrders::default();
    let (orders, refund_hold) = (stub.orders.clone(), stub.hold.clone());
    let order_stub = TestServer::start(order_service_stub(stub)).await;
    let (bus_stub, bus) = test_support::stub_receiver().await;
    let mut vars: Env = test_support::test_env()
        .with("ORDER_SERVICE_URL", order_stub.url.clone())
        .with("EVENT_BUS_URL", bus_stub.url.clone())
        .with("PAYMENT_RETRY_BUDGET_MS", "3000");
    for (k, v) in env {
        vars = vars.with(k, *v);
    }
    let config = Config::from_env(&vars).unwrap();
    let simulated = scripted.is_none();
    let provider = Arc::new(scripted.unwrap_or_else(ScriptedProvider::new));
    let app = if simulated {
        payment_service::build(config, test_support::backends().await).await
    } else {
        let backends = test_support::backends().await;
        payment_service::build_with_provider(config, backends, provider.clone()).await
    }
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run(listener, shutdown.clone()));
    TestApp {
        url,
        client: reqwest::Client::new(),
        provider,
        orders,
        refund_hold,
        bus,
        seen: Vec::new(),
        shutdown,
        running: Some(running),
        _servers: vec![order_stub, bus_stub],
    }
}

/// `GET /internal/orders/{id}` answering the orders the test registered (internal token required).
fn order_service_stub(stub: StubOrders) -> Router {
    async fn get_order(
        State(StubOrders { orders, .. }): State<StubOrders>,
        Path(id): Path<String>,
        headers: HeaderMap,
    ) -> axum::response::Response {
        if headers
            .get("x-internal-token")
            .and_then(|v| v.to_str().ok())
            != Some(INTERNAL_TOKEN)
        {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        match orders.lock().unwrap().get(&id) {
            Some(o) => Json(json!({"success": true, "data": o})).into_response(),
            None => (
                StatusCode::NOT_FOUND,
                Json(json!({"success": false, "error": "Order not found", "code": "order_not_found"})),
            )
                .into_response(),
        }
    }
    // The order service's side of a refund: the owner's cancels a pending/confirmed order, an
    // admin's (a return) anything not shipped yet.
    async fn refund_order(
        State(StubOrders { orders, hold }): State<StubOrders>,
        Path(id): Path<String>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> axum::response::Response {
        if headers
            .get("x-internal-token")
            .and_then(|v| v.to_str().ok())
            != Some(INTERNAL_TOKEN)
        {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let answer = {
            let mut orders = orders.lock().unwrap();
            let Some(order) = orders.get_mut(&id) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let from: &[&str] = match body["by"].as_str() {
                Some("admin") => &["pending", "confirmed", "processing"],
                _ => &["pending", "confirmed"],
            };
            let cancel = from.iter().any(|s| order["status"] == *s);
            if cancel {
                order["status"] = json!("cancelled");
            }
            json!({"success": true, "data": {"order": order.clone(), "cancelled": cancel}})
        };
        if hold.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            hold.reached.notify_one();
            hold.resume.notified().await;
        }
        Json(answer).into_response()
    }
    Router::new()
        .route("/internal/orders/{id}", get(get_order))
        .route("/internal/orders/{id}/refund", post(refund_order))
        .with_state(stub)
}

pub fn token(user_id: &str, role: &str) -> String {
    test_support::token(user_id, role)
}

pub fn new_id() -> String {
    shared::ids::new_object_id()
}

impl TestApp {
    /// Cancels the service and waits (5 s deadline) for `run` to return.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let running = self.running.take().unwrap();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("run did not return after shutdown")
            .unwrap()
    }

    /// Registers an order at the stub order service; returns its id.
    pub fn add_order(&self, user_id: &str, total: f64, status: &str) -> String {
        let id = new_id();
        let order = json!({"_id": id, "userId": user_id, "totalAmount": total, "status": status});
        self.orders.lock().unwrap().insert(id.clone(), order);
        id
    }

    pub fn set_order_status(&self, id: &str, status: &str) {
        self.orders.lock().unwrap().get_mut(id).unwrap()["status"] = json!(status);
    }

    pub fn order_status(&self, id: &str) -> Value {
        self.orders.lock().unwrap()[id]["status"].clone()
    }

    /// Posts events to `/events` with the internal token.
    pub async fn post_events(&self, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/events", self.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// An `OrderCreated` envelope (fresh event id).
    pub fn order_created(order_id: &str, user_id: &str, total: f64) -> Value {
        serde_json::to_value(shared::events::EventEnvelope::new(
            "OrderCreated",
            json!({"orderId": order_id, "userId": user_id, "items": [], "totalAmount": total}),
            "order-service",
        ))
        .unwrap()
    }

    pub async fn process(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let res = self
            .client
            .post(format!("{}/api/payments/process", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        status_json(res).await
    }

    pub async fn get_payment(&self, token: &str, order_id: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .get(format!("{}/api/payments/{order_id}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        status_json(res).await
    }

    pub async fn refund(&self, token: &str, payment_id: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .post(format!("{}/api/payments/{payment_id}/refund", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        status_json(res).await
    }

    /// Polls the payment of `order_id` until its status is `status` (5 s deadline).
    pub async fn wait_status(&self, token: &str, order_id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (code, body) = self.get_payment(token, order_id).await;
            if code == StatusCode::OK && body["data"]["status"] == status {
                return body["data"].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (5 s deadline) for the bus to receive an event of `kind` about `order_id`.
    pub async fn wait_event(&mut self, kind: &str, order_id: &str) -> Value {
        let matches = |e: &Value| e["type"] == kind && e["data"]["orderId"] == order_id;
        if let Some(e) = self.seen.iter().find(|e| matches(e)) {
            return e.clone();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let batch = tokio::time::timeout_at(deadline, self.bus.recv())
                .await
                .unwrap_or_else(|_| panic!("no {kind} for {order_id}; saw {:?}", self.seen))
                .unwrap();
            let events = match batch {
                Value::Array(a) => a,
                one => vec![one],
            };
            self.seen.extend(events);
            if let Some(e) = self.seen.iter().find(|e| matches(e)) {
                return e.clone();
            }
        }
    }

    /// Every event of `kind` about `order_id` received so far.
    pub fn events_seen(&mut self, kind: &str, order_id: &str) -> usize {
        while let Ok(batch) = self.bus.try_recv() {
            match batch {
                Value::Array(a) => self.seen.extend(a),
                one => self.seen.push(one),
            }
        }
        self.seen
            .iter()
            .filter(|e| e["type"] == kind && e["data"]["orderId"] == order_id)
            .count()
    }
}

pub async fn status_json(res: reqwest::Response) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    (status, res.json().await.unwrap_or(Value::Null))
}
