//! Test helpers: serve a router on 127.0.0.1:0 (bound before spawning, so no sleeps), a test
//! environment with valid secrets, and a stub receiver that records what is posted to it.
#![allow(clippy::unwrap_used)]
#![allow(
    clippy::print_stderr,
    reason = "a test says on stderr which backend variant it skips"
)]

pub mod contract;
pub mod indexes;
pub mod openapi;
pub mod probe;

pub use contract::TempSqlite;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use shared::auth::JwtKeys;
use shared::config::Env;
use shared::platform::{Backends, TOKEN_AUDIENCE, TOKEN_ISSUER};
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// JWT secret used by tests.
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123";
/// Encryption key used by tests (the original's compose value).
pub const ENCRYPTION_KEY: &str = "12345678901234567890123456789012";
/// Internal token used by tests.
pub const INTERNAL_TOKEN: &str = "test-internal-token-0123456789abcdef";

/// The session of every token [`token`] mints; [`backends`] knows it as live.
pub const TEST_SID: &str = "test-session";

/// An environment with every common secret set and an in-memory database. No auth service runs:
/// `AUTH_SERVICE_URL` points at a closed port, so a session the test did not open is never live.
pub fn test_env() -> Env {
    Env::from_pairs([
        ("JWT_SECRET", JWT_SECRET),
        ("JWT_REFRESH_SECRET", "test-refresh-secret-0123456789abcdef"),
        ("ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("INTERNAL_TOKEN", INTERNAL_TOKEN),
        ("DATABASE_URL", "sqlite::memory:"),
        ("AUTH_SERVICE_URL", "http://127.0.0.1:9"),
        // `/health` views refresh often, so a test sees a change within a few polls.
        ("HEALTH_REFRESH_MS", "20"),
    ])
}

/// In-process backends whose session set holds [`TEST_SID`] as live, as after a login.
pub async fn backends() -> Backends {
    let backends = Backends::in_process();
    backends
        .sessions
        .open_session(TEST_SID, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    backends
}

/// A port that refuses every connection while it is held: bound but never listened on, so no
/// other test's server can be given it (a port bound and released may be handed to the next
/// listener that asks for one).
pub struct RefusedPort {
    socket: tokio::net::TcpSocket,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl RefusedPort {
    /// A fresh port on 127.0.0.1.
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind");
        let addr = socket.local_addr().expect("addr");
        Self {
            socket,
            url: format!("http://{addr}"),
        }
    }

    /// Frees the port (a test that brings a server up there), returning its address.
    pub fn release(self) -> SocketAddr {
        self.socket.local_addr().expect("addr")
    }
}

impl Default for RefusedPort {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL of a [`RefusedPort`] held for the rest of the test process.
pub fn refused_url() -> String {
    static HELD: std::sync::Mutex<Vec<RefusedPort>> = std::sync::Mutex::new(Vec::new());
    let port = RefusedPort::new();
    let url = port.url.clone();
    HELD.lock().expect("held ports").push(port);
    url
}

/// What a service error answers: status, code and message (for `error.rs` tests).
pub fn answer(e: impl Into<shared::ApiError>) -> (u16, &'static str, String) {
    let e = e.into();
    (e.status.as_u16(), e.code, e.message)
}

/// An access token of `user_id` with `role` in session [`TEST_SID`], signed with [`JWT_SECRET`].
pub fn token(user_id: &str, role: &str) -> String {
    JwtKeys::new(JWT_SECRET, TOKEN_ISSUER, TOKEN_AUDIENCE)
        .issue(user_id, role, TEST_SID)
        .0
}

/// A running server on an ephemeral port; stops when dropped.
pub struct TestServer {
    /// Its address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    cancel: CancellationToken,
}

impl TestServer {
    /// Serves `router` on 127.0.0.1:0.
    pub async fn start(router: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, router)
    }

    /// Serves `router` on an already bound listener.
    pub fn start_on(listener: TcpListener, router: Router) -> Self {
        let addr = listener.local_addr().unwrap();
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        tokio::spawn(async move {
            let _ = shared::server::serve(listener, router, token, Default::default(), None).await;
        });
        Self {
            addr,
            url: format!("http://{addr}"),
            cancel,
        }
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A stub that accepts `POST /events` and forwards each body to a channel.
pub async fn stub_receiver() -> (TestServer, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let router = Router::new()
        .route(
            "/events",
            post(
                |State(tx): State<mpsc::UnboundedSender<Value>>, Json(v): Json<Value>| async move {
                    let _ = tx.send(v);
                    Json(serde_json::json!({"success": true}))
                },
            ),
        )
        .with_state(tx);
    (TestServer::start(router).await, rx)
}

/// A reqwest client for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Whether this is a CI run (`CI=true`), where a missing test server is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// `REDIS_TEST_URL`, or `None` to skip (panics under `CI=true`, where Redis must be there).
pub fn redis_test_url() -> Option<String> {
    match std::env::var("REDIS_TEST_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if in_ci() => panic!("REDIS_TEST_URL must be set when CI=true"),
        _ => {
            eprintln!("REDIS_TEST_URL not set: skipping the Redis variant of this test");
            None
        }
    }
}

/// A fresh MongoDB database for one test, dropped by `cleanup`.
pub struct TestMongo {
    /// A URL naming the fresh database (`mongodb://host:port/test_<id>`), for `store::connect`.
    pub url: String,
    /// The database name.
    pub name: String,
    base: String,
}

impl TestMongo {
    /// A fresh database on `MONGO_TEST_URL`, or `None` to skip (panics under `CI=true`).
    pub fn new() -> Option<Self> {
        let base = match std::env::var("MONGO_TEST_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if in_ci() => panic!("MONGO_TEST_URL must be set when CI=true"),
            _ => {
                eprintln!("MONGO_TEST_URL not set: skipping the MongoDB variant of this test");
                return None;
            }
        };
        let name = format!("test_{}", shared::ids::new_object_id());
        Some(Self {
            url: shared::mongo::with_database(&base, &name),
            name,
            base,
        })
    }

    /// Drops the database.
    pub async fn cleanup(self) {
        if let Ok(client) = mongodb::Client::with_uri_str(&self.base).await {
            let _ = client.database(&self.name).drop().await;
        }
    }
}

/// A TCP forwarder in front of a real server that a test can cut (connections dropped, new ones
/// refused) and restore on the same port: a database or Redis "stopped" and "back" without
/// touching the server other tests use.
pub struct Forwarder {
    /// The address clients connect to.
    pub addr: SocketAddr,
    target: String,
    tasks: Option<tokio::task::JoinSet<()>>,
}

impl Forwarder {
    /// Forwards 127.0.0.1:<free port> to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut f = Self {
            addr: listener.local_addr().unwrap(),
            target: target.to_string(),
            tasks: None,
        };
        f.serve(listener);
        f
    }

    fn serve(&mut self, listener: TcpListener) {
        let mut tasks = tokio::task::JoinSet::new();
        let target = self.target.clone();
        tasks.spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Drops every forwarded connection and refuses new ones.
    pub async fn cut(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    /// Accepts and forwards again on the same port.
    pub async fn restore(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

/// `host:port` of a single-host URL such as `mongodb://h:1/db` or `redis://h:2/`.
pub fn authority_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hosts = rest.split(['/', '?']).next().unwrap_or(rest);
    hosts.rsplit('@').next().unwrap_or(hosts).to_string()
}
