//! The end-to-end harness: a stack on ephemeral ports with its own data directory, and typed helpers
//! that drive it through the gateway.
#![allow(clippy::unwrap_used, dead_code)]

use serde_json::{json, Value};
use shared::config::Env;
use stack::{Service, Stack, StackOptions};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs each scenario (an `async fn(&mut TestStack)` of the calling file) on a fresh stack of the
/// given backend.
#[macro_export]
macro_rules! scenarios {
    ($module:ident, $backend:expr, [$($name:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(mut t) = super::TestStack::start($backend).await else { return };
                    super::$name(&mut t).await;
                    t.stop().await;
                }
            )*
        }
    };
}

pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The stack's `JWT_SECRET` (to forge validly signed tokens).
pub const JWT_SECRET: &str = "e2e-jwt-secret-0123456789abcdef0123456789";
pub const ADMIN_PASSWORD: &str = "admin-password-123";

/// A client of the gateway (cheap to clone into tasks).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(b) = body {
            rb = rb.json(b);
        }
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn place_order(
        &self,
        token: &str,
        lines: &[(&str, i64)],
        key: Option<&str>,
    ) -> (u16, Value) {
        let items: Vec<Value> = lines
            .iter()
            .map(|(p, q)| json!({"productId": p, "quantity": q}))
            .collect();
        let body = json!({
            "items": items,
            "shippingAddress": {"street": "123 Main St", "city": "Mumbai", "state": "Maharashtra", "zipCode": "400001", "country": "India"}
        });
        let mut rb = self
            .http
            .post(format!("{}/api/orders", self.base))
            .bearer_auth(token)
            .json(&body);
        if let Some(k) = key {
            rb = rb.header("Idempotency-Key", k);
        }
        let res = rb.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// Which backends the stack runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite files and in-process cache, limits and revocations.
    Embedded,
    /// MongoDB (`MONGO_TEST_URL`, a fresh database per service) and Redis (`REDIS_TEST_URL`, a fresh
    /// key prefix).
    MongoRedis,
}

pub struct TestStack {
    pub stack: Stack,
    pub client: Client,
    pub provider: Arc<payment_service::clients::provider::SimulatedProvider>,
    data_dir: PathBuf,
    mongo_dbs: Vec<(String, String)>,
}

impl TestStack {
    /// A stack on `backend`, or `None` when its servers are not configured (outside CI).
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, Vec::new()).await
    }

    /// Like `start`, with extra variables (they win over the defaults).
    pub async fn start_with(backend: Backend, extra: Vec<(String, String)>) -> Option<Self> {
        let data_dir =
            std::env::temp_dir().join(format!("ecommerce-e2e-{}", shared::ids::new_object_id()));
        let mut env = Env::from_pairs([
            ("JWT_SECRET", JWT_SECRET),
            (
                "JWT_REFRESH_SECRET",
                "e2e-refresh-secret-0123456789abcdef012345",
            ),
            ("ENCRYPTION_KEY", "12345678901234567890123456789012"),
            ("INTERNAL_TOKEN", "e2e-internal-token-0123456789abcdef0123"),
            ("ADMIN_EMAIL", ADMIN_EMAIL),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("ARGON2_MEMORY_KIB", "64"),
            ("RATE_LIMIT_AUTH", "10000/60"),
            ("RATE_LIMIT_WRITE", "10000/60"),
            ("RATE_LIMIT_READ", "100000/60"),
            ("PAYMENT_FAILURE_RATE", "0"),
            ("PAYMENT_LATENCY_MS", "0-5"),
            ("PAYMENT_SEED", "7"),
            ("OUTBOX_POLL_MS", "100"),
            ("DELIVERY_BACKOFF_MS", "50"),
            ("DELIVERY_BACKOFF_MAX_MS", "500"),
            ("DEV_TOOLS", "true"),
        ]);
        let mut mongo_dbs = Vec::new();
        if backend == Backend::MongoRedis {
            let redis = test_support::redis_test_url()?;
            let mongo = test_support::TestMongo::new()?;
            let run = shared::ids::new_object_id();
            env = env
                .with("REDIS_URL", redis)
                .with("REDIS_KEY_PREFIX", format!("e2e{run}:"));
            for db in ["auth", "products", "orders", "payments", "events"] {
                let name = format!("e2e_{run}_{db}");
                let url = shared::mongo::with_database(&mongo.url, &name);
                env = env.with(&format!("{}_DATABASE_URL", db.to_uppercase()), url);
                mongo_dbs.push((mongo.url.clone(), name));
            }
            mongo.cleanup().await;
        }
        for (k, v) in extra {
            env = env.with(&k, v);
        }
        let provider = Arc::new(payment_service::clients::provider::SimulatedProvider::new(
            payment_service::config::SimulationConfig {
                latency_min: Duration::from_millis(0),
                latency_max: Duration::from_millis(5),
                failure_rate: 0.0,
                decline_rate: 0.0,
                seed: Some(7),
            },
        ));
        let ports: HashMap<Service, u16> = HashMap::new();
        let stack = Stack::start(StackOptions {
            data_dir: data_dir.clone(),
            host: "127.0.0.1".parse().unwrap(),
            ports,
            env,
            payment_provider: Some(provider.clone()),
            demo_data: false,
        })
        .await
        .unwrap();
        let client = Client {
            http: reqwest::Client::new(),
            base: stack.url(Service::Gateway),
        };
        Some(TestStack {
            stack,
            client,
            provider,
            data_dir,
            mongo_dbs,
        })
    }

    pub fn client_handle(&self) -> Client {
        self.client.clone()
    }

    pub async fn stop(self) {
        self.stack.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        for (url, name) in self.mongo_dbs {
            if let Ok(client) = mongodb::Client::with_uri_str(&url).await {
                let _ = client.database(&name).drop().await;
            }
        }
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
        self.client.send("POST", path, Some(body), token).await
    }

    pub async fn put(&self, path: &str, body: &Value, token: &str) -> (u16, Value) {
        self.client.send("PUT", path, Some(body), Some(token)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.client.send("GET", path, None, token).await
    }

    pub async fn raw_post(&self, path: &str, body: &str, content_type: &str) -> (u16, Value) {
        let res = self
            .client
            .http
            .post(format!("{}{path}", self.client.base))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The payment of order `oid` as `token` sees it.
    pub async fn payment(&self, token: &str, oid: &str) -> Value {
        let (s, body) = self.get(&format!("/api/payments/{oid}"), Some(token)).await;
        assert_eq!(s, 200, "{body}");
        body["data"].clone()
    }

    /// `POST /api/payments/<payment of oid>/refund` as `token`.
    pub async fn refund(&self, token: &str, oid: &str) -> (u16, Value) {
        let admin = self.login_admin().await;
        let id = self.payment(&admin, oid).await["_id"]
            .as_str()
            .unwrap()
            .to_string();
        self.post(
            &format!("/api/payments/{id}/refund"),
            &json!({}),
            Some(token),
        )
        .await
    }

    /// `PUT /api/orders/<oid>/status` as `admin`: the answer's status.
    pub async fn advance(&self, admin: &str, oid: &str, status: &str) -> (u16, Value) {
        self.put(
            &format!("/api/orders/{oid}/status"),
            &json!({ "status": status }),
            admin,
        )
        .await
    }

    /// Calls a service directly (bypassing the gateway) and returns the status.
    pub async fn direct(&self, svc: Service, method: &str, path: &str, token: &str) -> u16 {
        let c = Client {
            http: self.client.http.clone(),
            base: self.stack.url(svc),
        };
        let body = if method == "GET" {
            None
        } else {
            Some(json!({}))
        };
        c.send(method, path, body.as_ref(), Some(token)).await.0
    }

    pub async fn login_admin(&self) -> String {
        let (s, body) = self
            .post(
                "/api/auth/login",
                &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
                None,
            )
            .await;
        assert_eq!(s, 200, "admin login: {body}");
        assert_eq!(body["data"]["user"]["role"], "admin");
        body["data"]["accessToken"].as_str().unwrap().to_string()
    }

    pub async fn register(&self, name: &str, email: &str) -> String {
        let (s, body) = self
            .post(
                "/api/auth/register",
                &json!({"name": name, "email": email, "password": "password123"}),
                None,
            )
            .await;
        assert_eq!(s, 201, "register: {body}");
        body["data"]["accessToken"].as_str().unwrap().to_string()
    }

    pub async fn create_product(&self, admin: &str, sku: &str, price: f64, stock: i64) -> Value {
        let body = json!({
            "name": format!("Product {sku}"), "description": "High-performance laptop", "price": price,
            "stock": stock, "category": "Electronics", "sku": sku
        });
        let (s, res) = self.post("/api/products", &body, Some(admin)).await;
        assert_eq!(s, 201, "create product: {res}");
        res["data"].clone()
    }

    pub async fn place_order(
        &self,
        token: &str,
        lines: &[(&str, i64)],
        key: Option<&str>,
    ) -> (u16, Value) {
        self.client.place_order(token, lines, key).await
    }

    pub async fn stock(&self, pid: &str) -> i64 {
        let (s, body) = self.get(&format!("/api/products/{pid}"), None).await;
        assert_eq!(s, 200, "{body}");
        body["data"]["stock"].as_i64().unwrap()
    }

    /// Polls the product until its stock is `expected` (10 s deadline): a release a refund queued
    /// is applied by the order service's release worker, not by the request.
    pub async fn wait_stock(&self, pid: &str, expected: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stock = self.stock(pid).await;
            if stock == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "product {pid} has stock {stock}, never {expected}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls the order until `done` holds (10 s deadline).
    pub async fn wait_order(&self, token: &str, oid: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (s, body) = self.get(&format!("/api/orders/{oid}"), Some(token)).await;
            assert_eq!(s, 200, "{body}");
            if done(&body["data"]) {
                return body["data"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "order {oid} never reached the state: {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How many real charges the provider made for the order's payment (its first attempt's key is
    /// the payment id; failures are off in these tests, so there is no second attempt).
    pub async fn charges_for_order(&self, token: &str, oid: &str) -> u32 {
        let (s, body) = self.get(&format!("/api/payments/{oid}"), Some(token)).await;
        assert_eq!(s, 200, "{body}");
        self.provider
            .charges_for(body["data"]["_id"].as_str().unwrap())
    }
}
