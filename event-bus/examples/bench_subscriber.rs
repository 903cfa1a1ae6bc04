//! A fast stub subscriber for `bench/bus.sh`: answers 200 to `POST /events` on every port given,
//! counting each event id per port, so the script can check that every event reached every
//! subscriber exactly once. `GET /stats` answers that port's counts. Plain hyper, so that it is
//! not the bottleneck. Usage: `bench_subscriber <port>...`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

const OK: &[u8] = br#"{"success":true}"#;

/// What one port has received.
#[derive(Default)]
struct Counts {
    ids: HashSet<Box<str>>,
    received: u64,
    duplicates: u64,
    unreadable: u64,
    first_ms: i64,
    last_ms: i64,
}

#[derive(Deserialize)]
struct Delivery<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as i64)
}

fn record(counts: &Mutex<Counts>, body: &[u8]) {
    let id = serde_json::from_slice::<Delivery<'_>>(body).ok();
    let now = now_ms();
    let mut c = counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    c.received += 1;
    if c.first_ms == 0 {
        c.first_ms = now;
    }
    c.last_ms = now;
    match id {
        Some(d) => {
            if !c.ids.insert(d.id.into()) {
                c.duplicates += 1;
            }
        }
        None => c.unreadable += 1,
    }
}

fn stats(counts: &Mutex<Counts>) -> Bytes {
    let c = counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let json = serde_json::json!({
        "received": c.received, "distinct": c.ids.len(), "duplicates": c.duplicates,
        "unreadable": c.unreadable, "firstMs": c.first_ms, "lastMs": c.last_ms,
    });
    Bytes::from(json.to_string())
}

async fn answer(
    counts: Arc<Mutex<Counts>>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = match (req.method(), req.uri().path()) {
        (&Method::POST, "/events") => {
            let bytes = req.into_body().collect().await?.to_bytes();
            record(&counts, &bytes);
            Bytes::from_static(OK)
        }
        (&Method::GET, "/stats") => stats(&counts),
        _ => {
            let mut res = Response::new(Full::new(Bytes::new()));
            *res.status_mut() = StatusCode::NOT_FOUND;
            return Ok(res);
        }
    };
    let mut res = Response::new(Full::new(body));
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let counts = Arc::new(Mutex::new(Counts::default()));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let counts = counts.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(counts.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let ports = std::env::args()
        .skip(1)
        .map(|p| p.parse::<u16>())
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!ports.is_empty(), "usage: bench_subscriber <port>...");
    let servers: Vec<_> = ports.into_iter().map(|p| tokio::spawn(serve(p))).collect();
    for s in servers {
        s.await??;
    }
    Ok(())
}
