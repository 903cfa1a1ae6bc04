//! `spawn_app` and the `TestApp` helpers: tokens for each role, JSON calls, product fixtures.

use product_service::{build, Config};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use shared::platform::Backends;
use test_support::{TestServer, INTERNAL_TOKEN};

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    _server: TestServer,
}

/// A JSON response: status, body, headers.
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_support::backends().await).await
}

pub async fn spawn_app_with(backends: Backends) -> TestApp {
    spawn_app_env(test_support::test_env(), backends).await
}

/// The service on `database_url` (a MongoDB URL in the MongoDB variants).
pub async fn spawn_app_on(database_url: &str) -> TestApp {
    spawn_app_env(
        test_support::test_env().with("DATABASE_URL", database_url),
        test_support::backends().await,
    )
    .await
}

/// The service configured from `env`.
pub async fn spawn_app_env(env: shared::config::Env, backends: Backends) -> TestApp {
    let config = Config::from_env(&env).unwrap();
    let app = build(config, backends).await.unwrap();
    let server = TestServer::start(app.router()).await;
    TestApp {
        url: server.url.clone(),
        client: test_support::client(),
        _server: server,
    }
}

pub fn product_body(sku: &str) -> Value {
    json!({
        "name": format!("Product {sku}"),
        "description": "A fine product",
        "price": 19.99,
        "stock": 10,
        "category": "Electronics",
        "sku": sku,
    })
}

impl TestApp {
    pub fn admin(&self) -> String {
        test_support::token("64b7f0c2a1b2c3d4e5f60001", "admin")
    }

    pub fn user(&self) -> String {
        test_support::token("64b7f0c2a1b2c3d4e5f60002", "user")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        reply(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// A call to an internal endpoint with the internal token.
    pub async fn internal(&self, path: &str, body: Value) -> Reply {
        let res = self
            .client
            .post(format!("{}{path}", self.url))
            .header("x-internal-token", INTERNAL_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        reply(res).await
    }

    /// Creates a product as admin and returns its JSON.
    pub async fn create(&self, body: Value) -> Value {
        let admin = self.admin();
        let r = self
            .call(Method::POST, "/api/products", Some(&admin), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["data"].clone()
    }

    pub async fn stock_of(&self, id: &str) -> i64 {
        let r = self.get(&format!("/api/products/{id}"), None).await;
        r.body["data"]["stock"].as_i64().unwrap()
    }
}

pub async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        headers,
    }
}
