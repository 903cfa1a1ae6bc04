//! The operations endpoints every service answers without credentials on its own port (`/health`,
//! `/ready`, `/metrics`), probed the same way in every service's tests.

use serde_json::Value;
use std::time::Duration;

/// How long a background view (`/health`) may take to show a change.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What a GET without credentials answered.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The JSON body (`Value::Null` when the body is not JSON).
    pub body: Value,
}

/// `GET <base><path>` without credentials.
pub async fn get(base: &str, path: &str) -> Answer {
    let res = reqwest::get(format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    Answer { status, body }
}

/// `GET /health`, asserting the liveness answer: always 200.
pub async fn health(base: &str) -> Value {
    let answer = get(base, "/health").await;
    assert_eq!(answer.status, 200, "/health: {}", answer.body);
    answer.body
}

/// Asserts the shape every service's `/health` shares (`shared::health::Report`): `status`
/// `healthy`, or `degraded` exactly when `database` is `down`; `service` named; `database` `up`
/// or `down`.
pub fn assert_health_shape(body: &Value, service: &str) {
    assert_eq!(body["service"], service, "{body}");
    let database = body["database"].as_str();
    assert!(matches!(database, Some("up" | "down")), "database: {body}");
    let expected = if database == Some("up") {
        "healthy"
    } else {
        "degraded"
    };
    assert_eq!(body["status"], expected, "{body}");
}

/// `GET /ready`: its status and body.
pub async fn ready(base: &str) -> Answer {
    get(base, "/ready").await
}

/// Polls `GET /health` (a view refreshed in the background) until `done` holds for its body;
/// panics with the last body after [`PATIENCE`].
pub async fn health_when(base: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = health(base).await;
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "/health never matched: {body}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `GET /metrics`, asserting 200 and the Prometheus text format; the exposition text.
pub async fn metrics(base: &str) -> String {
    let res = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
    assert_eq!(res.status().as_u16(), 200);
    let content_type = res.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    res.text().await.unwrap_or_default()
}

/// Asserts that the exposition `text` has each of `lines` (whole samples, `name{labels} value`).
pub fn assert_samples(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "no sample `{line}` in:\n{text}"
        );
    }
}

/// Asserts the samples every `/metrics` carries besides the service's own: `build_info` of
/// `service` at `version` (the crate's `CARGO_PKG_VERSION`) and, on Linux, the process's CPU
/// seconds, resident memory and open descriptors under their standard names.
pub fn assert_build_and_process_samples(text: &str, service: &str, version: &str) {
    assert_samples(
        text,
        &[&format!(
            "build_info{{service=\"{service}\",version=\"{version}\"}} 1"
        )],
    );
    if cfg!(target_os = "linux") {
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
        ] {
            let prefix = format!("{name}{{service=\"{service}\"}} ");
            let value = text
                .lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no sample `{prefix}…` in:\n{text}"));
            let value: f64 = value.parse().unwrap_or(-1.0);
            assert!(value >= 0.0, "{name} = {value}");
            if name != "process_cpu_seconds_total" {
                assert!(value > 0.0, "{name} = {value}");
            }
        }
    }
}
