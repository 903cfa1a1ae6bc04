//! The HTTP client's own ceiling for `bench/bus.sh`: posts one delivery's body to a stub subscriber
//! as fast as it can, from `concurrency` tasks on the bus's HTTP client (same settings and headers
//! as a delivery attempt), for `seconds`, and prints the requests/s. Pinned where the bus runs, it
//! is what the bus could deliver if storing and accepting events cost nothing.
//! Usage: `bench_client <url> <concurrency> <seconds>`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool reports on the terminal"
)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BODY: &str = r#"{"id":"b1-1","type":"OrderCreated","data":{"orderId":"o1-1","userId":"u1","totalAmount":49.99,"items":[{"productId":"p1","quantity":1,"price":49.99}]},"occurredAt":"2026-11-25T10:00:00.000Z","source":"order-service"}"#;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(concurrency), Some(seconds)) = (
        args.get(1).cloned(),
        args.get(2).and_then(|v| v.parse::<usize>().ok()),
        args.get(3).and_then(|v| v.parse::<f64>().ok()),
    ) else {
        eprintln!("usage: bench_client <url> <concurrency> <seconds>");
        std::process::exit(2);
    };
    let http = shared::client::http_client(Duration::from_secs(5));
    let body = bytes::Bytes::from_static(BODY.as_bytes());
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            let (done, failed) = (done.clone(), failed.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let res = http
                        .post(&url)
                        .header("x-internal-token", "bench-internal-token-0123456789abcdef")
                        .header("x-request-id", "event-b1-1")
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => done.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "{:.0} requests/s ({n} in {secs:.2} s, {} failed)",
        n as f64 / secs,
        failed.load(Ordering::Relaxed)
    );
}
