//! `spawn_app`: the gateway on 127.0.0.1:0 in front of echo upstreams that report what they saw.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use shared::auth::JwtKeys;
use shared::platform::{Backends, TOKEN_AUDIENCE, TOKEN_ISSUER};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use test_support::TestServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// An upstream that echoes each request as JSON: `{service, method, path, query, headers, bodyLen, body}`.
pub struct Upstream {
    pub server: TestServer,
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct EchoState {
    service: &'static str,
    hits: Arc<AtomicUsize>,
}

async fn echo(
    State(s): State<EchoState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    req: Request,
) -> Json<Value> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let headers: Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
        .collect();
    if parts.uri.path().ends_with("/slow") {
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    if parts.uri.path().ends_with("/stall") {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let mut len = 0usize;
    let mut kept = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("body chunk");
        len += chunk.len();
        if kept.len() < 65_536 {
            kept.extend_from_slice(&chunk);
        }
    }
    Json(json!({
        "service": s.service,
        "peer": peer.to_string(),
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "bodyLen": len,
        "body": String::from_utf8_lossy(&kept),
    }))
}

pub async fn upstream(service: &'static str) -> Upstream {
    let hits = Arc::new(AtomicUsize::new(0));
    let state = EchoState {
        service,
        hits: hits.clone(),
    };
    let router = Router::new()
        .route(
            "/health",
            get(|| async { Json(json!({"status": "healthy"})) }),
        )
        .route(
            "/api/products/gzipped",
            get(|| async {
                (
                    [
                        ("content-encoding", "gzip"),
                        ("content-type", "application/json"),
                    ],
                    vec![0x1f_u8, 0x8b, 1, 2, 3],
                )
                    .into_response()
            }),
        )
        .route(
            "/api/products/big",
            get(|| async { Body::from(vec![b'x'; 3 * 1024 * 1024]) }),
        )
        .fallback(any(echo))
        .with_state(state);
    Upstream {
        server: TestServer::start(router).await,
        hits,
    }
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub auth: Upstream,
    pub products: Upstream,
    pub orders: Upstream,
    pub payments: Upstream,
    pub bus: Upstream,
    pub backends: Backends,
    pub shutdown: CancellationToken,
    pub handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A valid access token for `user_id` in session `sid`, which the gateway's session set
    /// knows as live (as after a login).
    pub async fn token(&self, user_id: &str, sid: &str) -> String {
        self.backends
            .sessions
            .open_session(sid, Duration::from_secs(900))
            .await
            .expect("session opened");
        JwtKeys::new(test_support::JWT_SECRET, TOKEN_ISSUER, TOKEN_AUDIENCE)
            .issue(user_id, "user", sid)
            .0
    }

    /// `GET /metrics` as a scraper sends it (with the internal token): the exposition text.
    pub async fn metrics(&self) -> String {
        let res = self
            .client
            .get(self.at("/metrics"))
            .header("x-internal-token", test_support::INTERNAL_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        res.text().await.expect("text")
    }

    pub async fn get_json(
        &self,
        path: &str,
    ) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
        let res = self
            .client
            .get(self.at(path))
            .send()
            .await
            .expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        (status, headers, res.json().await.expect("json body"))
    }
}

/// The gateway with four fresh echo upstreams and `overrides` applied to the test environment.
pub async fn spawn_app(overrides: &[(&str, &str)]) -> TestApp {
    let (auth, products, orders, payments) = (
        upstream("auth").await,
        upstream("products").await,
        upstream("orders").await,
        upstream("payments").await,
    );
    let bus = upstream("events").await;
    // The background health checks would add connections to the scripted upstreams: rare here
    // unless a test asks for them.
    let mut env = test_support::test_env()
        .with("HEALTH_REFRESH_MS", "60000")
        .with("AUTH_SERVICE_URL", &auth.server.url)
        .with("PRODUCT_SERVICE_URL", &products.server.url)
        .with("ORDER_SERVICE_URL", &orders.server.url)
        .with("PAYMENT_SERVICE_URL", &payments.server.url)
        .with("EVENT_BUS_URL", &bus.server.url)
        .with("DEV_TOOLS", "true");
    for (k, v) in overrides {
        env = env.with(k, *v);
    }
    let config = api_gateway::Config::from_env(&env).expect("config");
    let backends = Backends::in_process();
    let app = api_gateway::build(config, backends.clone())
        .await
        .expect("build");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(app.run(listener, shutdown.clone()));
    TestApp {
        url,
        client: reqwest::Client::new(),
        auth,
        products,
        orders,
        payments,
        bus,
        backends,
        shutdown,
        handle: Some(handle),
    }
}
