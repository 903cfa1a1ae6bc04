//! Closed-loop clients of the order flow through the gateway: each places an order, polls it every
//! 5 ms until it is `confirmed`, and starts the next. Prints the confirmed orders per second and the
//! latency (order placed → seen confirmed) percentiles. Used by `bench/order_flow.sh`.
//!
//! Env: BASE (http://127.0.0.1:3000), CLIENTS (1), SECONDS (10), POLL_MS (5), ADMIN_PASSWORD
//! (required).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool reports on the terminal"
)]
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn env(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

async fn post(c: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut rb = c.post(url).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let res = rb.send().await.unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

async fn login(c: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let body = json!({"email": email, "password": password});
    let data = post(c, format!("{base}/api/auth/login"), None, body).await;
    data["data"]["accessToken"].as_str().unwrap().to_string()
}

/// Places orders until `until`, each awaited to `confirmed`; returns their latencies.
async fn client(
    c: reqwest::Client,
    base: String,
    token: String,
    pid: String,
    until: Instant,
    poll: Duration,
) -> Vec<Duration> {
    let mut latencies = Vec::new();
    let order = json!({
        "items": [{"productId": pid, "quantity": 1}],
        "shippingAddress": {"street": "1 Main St", "city": "Pune", "state": "MH",
                            "zipCode": "411001", "country": "India"}
    });
    while Instant::now() < until {
        let started = Instant::now();
        let placed = post(
            &c,
            format!("{base}/api/orders"),
            Some(&token),
            order.clone(),
        )
        .await;
        let url = format!(
            "{base}/api/orders/{}",
            placed["data"]["_id"].as_str().unwrap()
        );
        loop {
            let res = c.get(&url).bearer_auth(&token).send().await.unwrap();
            let body: Value = res.json().await.unwrap();
            match body["data"]["status"].as_str() {
                Some("confirmed") => break,
                Some("pending") => tokio::time::sleep(poll).await,
                other => panic!("order ended {other:?}: {body}"),
            }
        }
        latencies.push(started.elapsed());
    }
    latencies
}

#[tokio::main]
async fn main() {
    let base = env("BASE", "http://127.0.0.1:3000");
    let clients: usize = env("CLIENTS", "1").parse().unwrap();
    let seconds: u64 = env("SECONDS", "10").parse().unwrap();
    let poll = Duration::from_millis(env("POLL_MS", "5").parse().unwrap());
    let password = std::env::var("ADMIN_PASSWORD").expect("ADMIN_PASSWORD");
    let c = reqwest::Client::new();
    let admin = login(&c, &base, "admin@example.com", &password).await;
    let sku = format!("FLOW-{}", std::process::id());
    let product = json!({"name": "Flow", "description": "x", "price": 1, "stock": 1_000_000_000,
                         "category": "Bench", "sku": sku});
    let pid = post(&c, format!("{base}/api/products"), Some(&admin), product).await["data"]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let email = format!("flow{}@example.com", std::process::id());
    let user = json!({"name": "Flow", "email": email, "password": "password123"});
    post(&c, format!("{base}/api/auth/register"), None, user).await;
    let token = login(&c, &base, &email, "password123").await;

    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(client(
                c.clone(),
                base.clone(),
                token.clone(),
                pid.clone(),
                until,
                poll,
            ))
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "clients {clients}: {} confirmed in {elapsed:.1} s = {:.1}/s; latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.5),
        pct(0.9),
        pct(0.99)
    );
}
