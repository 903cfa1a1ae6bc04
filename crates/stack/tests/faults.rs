//! Faults on the production backends, end to end through the gateway: Redis and MongoDB cut off
//! mid-run (through a forwarder the test controls) and brought back, without restarting anything.
//! Needs `MONGO_TEST_URL` and `REDIS_TEST_URL` (skipped without them, a failure under `CI=true`).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;
use stack::Service;
use std::time::{Duration, Instant};
use test_support::{authority_of, Forwarder};

struct Faulty {
    t: TestStack,
    mongo: Forwarder,
    redis: Forwarder,
    mongo_url: String,
    dbs: Vec<String>,
}

async fn start() -> Option<Faulty> {
    let redis_url = test_support::redis_test_url()?;
    let mongo = test_support::TestMongo::new()?;
    let mongo_fwd = Forwarder::start(&authority_of(&mongo.url)).await;
    let redis_fwd = Forwarder::start(&authority_of(&redis_url)).await;
    let run = shared::ids::new_object_id();
    let mut extra = vec![
        (
            "REDIS_URL".to_string(),
            format!("redis://{}/", redis_fwd.addr),
        ),
        ("REDIS_KEY_PREFIX".to_string(), format!("fault{run}:")),
        (
            "MONGO_SERVER_SELECTION_TIMEOUT_MS".to_string(),
            "1000".to_string(),
        ),
    ];
    let mut dbs = Vec::new();
    for db in ["auth", "products", "orders", "payments", "events"] {
        let name = format!("fault_{run}_{db}");
        extra.push((
            format!("{}_DATABASE_URL", db.to_uppercase()),
            format!("mongodb://{}/{name}", mongo_fwd.addr),
        ));
        dbs.push(name);
    }
    let mongo_url = mongo.url.clone();
    mongo.cleanup().await;
    let t = TestStack::start_with(Backend::Embedded, extra).await?;
    Some(Faulty {
        t,
        mongo: mongo_fwd,
        redis: redis_fwd,
        mongo_url,
        dbs,
    })
}

impl Faulty {
    async fn stop(self) {
        self.t.stop().await;
        let client = mongodb::Client::with_uri_str(&self.mongo_url)
            .await
            .unwrap();
        for name in self.dbs {
            let _ = client.database(&name).drop().await;
        }
    }
}

/// Polls `f` until it returns true (deadline `secs`).
async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_down_degrades_safely_and_recovers_without_a_restart() {
    let Some(mut f) = start().await else { return };
    let admin = f.t.login_admin().await;
    let pid = f.t.create_product(&admin, "RDS1", 12.5, 20).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = f.t.register("Redis User", "redis@example.com").await;
    assert_eq!(f.t.get(&format!("/api/products/{pid}"), None).await.0, 200);

    f.redis.cut().await;
    // Catalogue reads come from the database: no 5xx.
    let started = Instant::now();
    let (s, body) = f.t.get(&format!("/api/products/{pid}"), None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["stock"], 20);
    assert_eq!(f.t.get("/api/products?limit=5", None).await.0, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "reads waited on Redis"
    );
    // Login still works: its limits fall back to an in-process limiter.
    let (s, body) =
        f.t.post(
            "/api/auth/login",
            &json!({"email": "redis@example.com", "password": "password123"}),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // Revocation cannot be checked: authenticated requests fail closed.
    let (s, body) = f.t.get("/api/orders", Some(&user)).await;
    assert_eq!(s, 503, "{body}");

    f.redis.restore().await;
    eventually(
        10,
        "authenticated requests after Redis returned",
        || async { f.t.get("/api/orders", Some(&user)).await.0 == 200 },
    )
    .await;
    let (s, body) = f.t.place_order(&user, &[(&pid, 1)], None).await;
    assert_eq!(s, 201, "{body}");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mongodb_down_gives_fast_503s_and_service_resumes_by_itself() {
    let Some(mut f) = start().await else { return };
    let admin = f.t.login_admin().await;
    let pid = f.t.create_product(&admin, "MDB1", 7.0, 20).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let user = f.t.register("Mongo User", "mongo@example.com").await;

    f.mongo.cut().await;
    let started = Instant::now();
    let product = json!({"name": "Chair", "description": "Oak", "price": 5, "stock": 1, "category": "Home", "sku": "MDB2"});
    let (s, body) = f.t.post("/api/products", &product, Some(&admin)).await;
    assert_eq!(s, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let (s, body) = f.t.place_order(&user, &[(&pid, 1)], None).await;
    assert_eq!(s, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    let http = reqwest::Client::new();
    for svc in [
        Service::Auth,
        Service::Products,
        Service::Orders,
        Service::Payments,
        Service::Events,
    ] {
        let base = f.t.stack.url(svc);
        let ready = http
            .get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        let health = http
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!((ready, health), (503, 200), "{svc:?} /ready and /health");
    }

    f.mongo.restore().await;
    eventually(15, "an order after MongoDB returned", || async {
        f.t.place_order(&user, &[(&pid, 1)], None).await.0 == 201
    })
    .await;
    for svc in [
        Service::Auth,
        Service::Products,
        Service::Orders,
        Service::Payments,
        Service::Events,
    ] {
        let url = format!("{}/ready", f.t.stack.url(svc));
        eventually(10, "readiness after MongoDB returned", || async {
            http.get(&url).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
    }
    f.stop().await;
}
