//! `spawn_app`, the bus stub, tokens, request helpers and waits.

pub use crate::stubs::ProductStub;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use shared::config::Env;
use std::time::Duration;
use test_support::{TestServer, INTERNAL_TOKEN};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Longest any wait in these tests may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A bus stub router that forwards every delivered event (arrays flattened) to a channel.
pub fn bus_router(tx: mpsc::UnboundedSender<Value>) -> Router {
    Router::new()
        .route(
            "/events",
            post(
                |State(tx): State<mpsc::UnboundedSender<Value>>, Json(v): Json<Value>| async move {
                    let events = match v {
                        Value::Array(a) => a,
                        one => vec![one],
                    };
                    for e in events {
                        let _ = tx.send(e);
                    }
                    (StatusCode::ACCEPTED, Json(json!({"success": true})))
                },
            ),
        )
        .with_state(tx)
}

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub products: ProductStub,
    pub bus: mpsc::UnboundedReceiver<Value>,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    _servers: Vec<TestServer>,
}

/// Where the product service and the bus are for a test.
#[derive(Default)]
pub struct Options {
    /// Product service URL instead of the stub's.
    pub product_url: Option<String>,
    /// Bus URL instead of a started stub (the channel then stays empty).
    pub bus_url: Option<String>,
    /// Extra environment.
    pub env: Vec<(&'static str, String)>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// The service on the database at `database_url` (a `TestMongo` URL for the MongoDB variants).
pub async fn spawn_app_on(database_url: &str) -> TestApp {
    spawn_app_with(Options {
        env: vec![("DATABASE_URL", database_url.to_string())],
        ..Default::default()
    })
    .await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let products = ProductStub::default();
    let product_server = TestServer::start(products.router()).await;
    let (tx, bus) = mpsc::unbounded_channel();
    let mut servers = vec![product_server];
    let bus_url = match opts.bus_url {
        Some(url) => url,
        None => {
            let server = TestServer::start(bus_router(tx)).await;
            let url = server.url.clone();
            servers.push(server);
            url
        }
    };
    let mut env: Env = test_support::test_env()
        .with(
            "PRODUCT_SERVICE_URL",
            opts.product_url.unwrap_or(servers[0].url.clone()),
        )
        .with("EVENT_BUS_URL", bus_url)
        .with("OUTBOX_POLL_MS", "50");
    for (k, v) in opts.env {
        env = env.with(k, v);
    }
    let config = order_service::Config::from_env(&env).unwrap();
    let app = order_service::build(config, test_support::backends().await)
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run(listener, shutdown.clone()));
    TestApp {
        url,
        http: reqwest::Client::new(),
        products,
        bus,
        shutdown,
        handle,
        _servers: servers,
    }
}

pub fn token(user_id: &str, role: &str) -> String {
    test_support::token(user_id, role)
}

/// A user with a fresh id: (id, bearer token).
pub fn user() -> (String, String) {
    let id = shared::ids::new_object_id();
    let t = token(&id, "user");
    (id, t)
}

pub fn admin() -> String {
    token(&shared::ids::new_object_id(), "admin")
}

pub fn address() -> Value {
    json!({"street": "221B Baker Street", "city": "Mumbai", "state": "MH", "zipCode": "400001", "country": "India"})
}

/// An order body for `(productId, quantity)` lines.
pub fn order_body(lines: &[(&str, i64)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|(p, q)| json!({"productId": p, "quantity": q}))
        .collect();
    json!({"items": items, "shippingAddress": address()})
}

impl TestApp {
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
    /// `GET` without a token (health, readiness).
    pub async fn get_open(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }
    /// Places an order and returns its JSON (asserting 201).
    pub async fn place(&self, token: &str, lines: &[(&str, i64)]) -> Value {
        let res = self.post("/api/orders", token, &order_body(lines)).await;
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["data"].clone()
    }
    /// Posts events to `/events` with the internal token.
    pub async fn deliver(&self, events: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/events", self.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(events)
            .send()
            .await
            .unwrap()
    }
    /// `POST <path>` of an internal route with the internal token.
    pub async fn internal_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }
    /// The next delivered event of `event_type` (others are skipped).
    pub async fn next_event(&mut self, event_type: &str) -> Value {
        tokio::time::timeout(DEADLINE, async {
            loop {
                let e = self.bus.recv().await.unwrap();
                if e["type"] == event_type {
                    return e;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {event_type} delivered"))
    }
}

/// An event envelope as the bus delivers it.
pub fn envelope(id: &str, event_type: &str, data: Value) -> Value {
    json!({"id": id, "type": event_type, "data": data, "occurredAt": "2026-11-25T00:00:00.000Z", "source": "payment-service"})
}

/// Polls `check` until it is true or the deadline passes.
pub async fn eventually<F: FnMut() -> bool>(what: &str, mut check: F) {
    let end = tokio::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
