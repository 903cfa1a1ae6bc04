//! Test harness: the bus running on 127.0.0.1:0 with its workers, and stub subscribers that record
//! every delivery attempt (headers included) and answer as scripted.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use event_bus::config::Config;
use serde_json::{json, Value};
use shared::platform::Backends;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use test_support::{TestServer, INTERNAL_TOKEN};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for something that should happen promptly.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running bus.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub shutdown: CancellationToken,
    pub handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts the bus from `test_support::test_env()` plus `extra`, serving with its delivery workers.
pub async fn spawn_app(extra: &[(&str, &str)]) -> TestApp {
    let mut env = test_support::test_env();
    for (k, v) in extra {
        env = env.with(k, *v);
    }
    let config = Config::from_env(&env).expect("valid test config");
    let app = event_bus::build(config, Backends::in_process())
        .await
        .expect("app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run(listener, shutdown.clone()));
    TestApp {
        url,
        client: reqwest::Client::new(),
        shutdown,
        handle: Some(handle),
    }
}

/// Starts the bus on the store at `database_url` (e.g. a `TestMongo` URL), plus `extra`.
pub async fn spawn_app_on(database_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![("DATABASE_URL", database_url)];
    env.extend_from_slice(extra);
    spawn_app(&env).await
}

impl TestApp {
    /// Stops the bus and waits until it has (workers included), e.g. before dropping its database.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap().unwrap();
        }
    }

    /// `POST /events` with the internal token.
    pub async fn publish(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/events", self.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET <path>` with the internal token.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// `GET <path>` with the internal token as JSON, asserting 200.
    pub async fn get_json(&self, path: &str) -> Value {
        let res = self
            .client
            .get(format!("{}{path}", self.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Polls `GET /health` (a view refreshed in the background) until `pred` holds.
    pub async fn health_where(&self, pred: impl Fn(&Value) -> bool) -> Value {
        test_support::probe::health_when(&self.url, pred).await
    }

    /// Polls `GET /events?limit=500` until the event `id` satisfies `pred`, or panics after PATIENCE.
    pub async fn wait_for_event(&self, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let list = self.get_json("/events?limit=500").await;
            let found = list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == id)
                .cloned();
            if let Some(e) = found.filter(|e| pred(e)) {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "event {id} never matched: {list}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The delivery of `event` to `subscriber`.
pub fn delivery<'a>(event: &'a Value, subscriber: &str) -> &'a Value {
    event["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["subscriber"] == subscriber)
        .unwrap_or_else(|| panic!("no delivery to {subscriber} in {event}"))
}

/// How a stub subscriber answers.
#[derive(Clone)]
pub enum Mode {
    /// 200 every time.
    Ok,
    /// 500 for the first `n` attempts, then 200.
    FailFirst(u32),
    /// Never answers.
    Hang,
    /// Answers 200 only after the notify fires.
    WaitFor(Arc<Notify>),
}

/// One recorded delivery attempt.
#[derive(Debug)]
pub struct Received {
    pub token: Option<String>,
    pub body: Value,
}

/// A stub subscriber.
pub struct Stub {
    pub server: TestServer,
    pub rx: mpsc::UnboundedReceiver<Received>,
    pub calls: Arc<AtomicU32>,
}

#[derive(Clone)]
struct StubState {
    mode: Mode,
    tx: mpsc::UnboundedSender<Received>,
    calls: Arc<AtomicU32>,
}

async fn receive(
    State(s): State<StubState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let n = s.calls.fetch_add(1, Ordering::SeqCst);
    let token = headers
        .get("x-internal-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let _ = s.tx.send(Received { token, body });
    match s.mode {
        Mode::Ok => {}
        Mode::FailFirst(k) if n < k => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"success": false})),
            )
        }
        Mode::FailFirst(_) => {}
        Mode::Hang => std::future::pending::<()>().await,
        Mode::WaitFor(notify) => notify.notified().await,
    }
    (StatusCode::OK, Json(json!({"success": true})))
}

/// Starts a stub subscriber answering as `mode`.
pub async fn stub(mode: Mode) -> Stub {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicU32::new(0));
    let state = StubState {
        mode,
        tx,
        calls: calls.clone(),
    };
    let router = Router::new()
        .route("/events", post(receive))
        .with_state(state);
    Stub {
        server: TestServer::start(router).await,
        rx,
        calls,
    }
}

impl Stub {
    /// The next recorded attempt, or panics after PATIENCE.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(PATIENCE, self.rx.recv())
            .await
            .expect("a delivery within the deadline")
            .expect("stub running")
    }
}

/// `EVENT_SUBSCRIBERS` for named stubs.
pub fn subscribers(stubs: &[(&str, &Stub)]) -> String {
    stubs
        .iter()
        .map(|(name, s)| format!("{name}={}", s.server.url))
        .collect::<Vec<_>>()
        .join(",")
}

/// Fast retry settings for tests.
pub const FAST_RETRIES: [(&str, &str); 3] = [
    ("DELIVERY_BACKOFF_MS", "10"),
    ("DELIVERY_BACKOFF_MAX_MS", "40"),
    ("DELIVERY_MAX_ATTEMPTS", "3"),
];
