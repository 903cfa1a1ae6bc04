//! Service tests: the auth service built from a test environment (in-memory SQLite, cheap argon2;
//! MongoDB for the `mongo` module when `MONGO_TEST_URL` is set), served on 127.0.0.1:0 and driven
//! over HTTP.
#![allow(clippy::unwrap_used)]

mod accounts;
mod admin;
mod health;
mod mongo;
mod sessions;

use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::config::Env;
use shared::platform::Backends;
use test_support::TestServer;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    _server: TestServer,
}

/// The service with a generous per-email limit and a bootstrapped admin.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|env| env).await
}

/// The service on the database at `url` (e.g. a `TestMongo` database).
pub async fn spawn_app_on(url: &str) -> TestApp {
    spawn_app_with(|env| env.with("DATABASE_URL", url)).await
}

/// The service with extra environment settings.
pub async fn spawn_app_with(tweak: impl FnOnce(Env) -> Env) -> TestApp {
    let env = test_support::test_env()
        .with("ARGON2_MEMORY_KIB", "8")
        .with("RATE_LIMIT_AUTH", "1000/60")
        .with("ADMIN_EMAIL", ADMIN_EMAIL)
        .with("ADMIN_PASSWORD", ADMIN_PASSWORD);
    let config = auth_service::Config::from_env(&tweak(env)).unwrap();
    let app = auth_service::build(config, Backends::in_process())
        .await
        .unwrap();
    let server = TestServer::start(app.router()).await;
    TestApp {
        url: server.url.clone(),
        client: test_support::client(),
        _server: server,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn send(
        &self,
        method: reqwest::Method,
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
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    pub async fn internal_get(&self, path: &str) -> Reply {
        let res = self
            .client
            .get(format!("{}{path}", self.url))
            .header("x-internal-token", test_support::INTERNAL_TOKEN)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        Reply {
            status,
            headers,
            body: res.json().await.unwrap_or(Value::Null),
        }
    }

    /// Registers `email` and returns the `data` of the 201.
    pub async fn register(&self, email: &str, password: &str) -> Value {
        let r = self
            .post(
                "/api/auth/register",
                None,
                json!({"name": "Test User", "email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["data"].clone()
    }

    /// Logs in and returns the `data` of the 200.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let r = self
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["data"].clone()
    }

    /// The admin's access token.
    pub async fn admin_token(&self) -> String {
        token_of(&self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await)
    }
}

pub fn token_of(data: &Value) -> String {
    data["accessToken"].as_str().unwrap().to_string()
}

pub fn refresh_of(data: &Value) -> String {
    data["refreshToken"].as_str().unwrap().to_string()
}

/// The session id inside an access token.
pub fn sid_of(access_token: &str) -> String {
    let keys = shared::auth::JwtKeys::new(
        test_support::JWT_SECRET,
        shared::platform::TOKEN_ISSUER,
        shared::platform::TOKEN_AUDIENCE,
    );
    keys.verify(access_token).unwrap().sid
}
