//! Prometheus metrics (`GET /metrics`): requests by route and status, a latency histogram per route,
//! order counters, and the outbox backlog. The shared crate has no metrics module yet, so this small
//! one lives here (the same shape as auth-service's).

use crate::state::{AppState, SERVICE};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    events: BTreeMap<(&'static str, &'static str), u64>,
}

/// The service's metric registry.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

impl Metrics {
    /// Counts a business event, e.g. `("order_created", "created")`.
    pub fn event(&self, name: &'static str, outcome: &'static str) {
        if let Ok(mut m) = self.0.lock() {
            *m.events.entry((name, outcome)).or_default() += 1;
        }
    }

    fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut m) = self.0.lock() else { return };
        *m.requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        let h = m.latency.entry(route.to_string()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.total += 1;
    }

    /// The Prometheus text exposition; `outbox_pending` is read by the caller.
    pub fn render(&self, outbox_pending: Option<u64>) -> String {
        let Ok(m) = self.0.lock() else {
            return String::new();
        };
        let mut out = String::from("# TYPE http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "http_requests_total{{service=\"{SERVICE}\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let labels = format!("service=\"{SERVICE}\",route=\"{route}\"");
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.total
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                h.total
            );
        }
        out.push_str("# TYPE order_events_total counter\n");
        for ((name, outcome), n) in &m.events {
            let _ = writeln!(
                out,
                "order_events_total{{event=\"{name}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        if let Some(pending) = outbox_pending {
            out.push_str("# TYPE order_outbox_pending gauge\n");
            let _ = writeln!(out, "order_outbox_pending {pending}");
        }
        out
    }
}

/// Middleware recording every matched request.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.run(req).await;
    metrics.request(
        &method,
        &route,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let pending = state.store.outbox().pending().await.ok();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(pending),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_histograms_events_and_backlog() {
        let m = Metrics::default();
        m.request("POST", "/api/orders", 201, 0.02);
        m.request("POST", "/api/orders", 409, 3.0);
        m.event("order_created", "created");
        let text = m.render(Some(4));
        assert!(text.contains(
            "http_requests_total{service=\"order-service\",method=\"POST\",route=\"/api/orders\",status=\"409\"} 1"
        ));
        assert!(text.contains("route=\"/api/orders\",le=\"0.025\"} 1"));
        assert!(text.contains("route=\"/api/orders\",le=\"+Inf\"} 2"));
        assert!(text.contains("order_events_total{event=\"order_created\",outcome=\"created\"} 1"));
        assert!(text.contains("order_outbox_pending 4"));
    }
}
