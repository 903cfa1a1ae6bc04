//! Prometheus metrics kept in-process (the shared crate has none yet): requests by route and
//! status with a latency histogram, and delivery outcomes per subscriber.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
    deliveries: BTreeMap<(String, &'static str), u64>,
}

/// The bus's counters; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

/// How a delivery attempt ended, as counted.
#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    /// Acknowledged with 2xx.
    Delivered,
    /// Failed; will be retried.
    Retried,
    /// Failed for the last time.
    Dead,
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        if let Ok(mut inner) = self.0.lock() {
            f(&mut inner);
        }
    }

    /// Counts one answered request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.with(|m| {
            *m.requests
                .entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
            let h = m
                .latency
                .entry((method.to_string(), route.to_string()))
                .or_default();
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        });
    }

    /// Counts one delivery attempt to `subscriber`.
    pub fn record_delivery(&self, subscriber: &str, outcome: Outcome) {
        let name = match outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retried => "retried",
            Outcome::Dead => "dead",
        };
        self.with(|m| {
            *m.deliveries
                .entry((subscriber.to_string(), name))
                .or_default() += 1
        });
    }

    /// The Prometheus text exposition, with the store totals as gauges.
    pub fn render(&self, totals: Option<crate::domain::Counts>) -> String {
        let mut out = String::new();
        let Ok(m) = self.0.lock() else {
            return out;
        };
        out.push_str("# HELP http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(out, "http_requests_total{{service=\"event-bus\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route), h) in &m.latency {
            let labels = format!("service=\"event-bus\",method=\"{method}\",route=\"{route}\"");
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP event_bus_delivery_attempts_total Delivery attempts by outcome.\n");
        out.push_str("# TYPE event_bus_delivery_attempts_total counter\n");
        for ((sub, outcome), n) in &m.deliveries {
            let _ = writeln!(out, "event_bus_delivery_attempts_total{{subscriber=\"{sub}\",outcome=\"{outcome}\"}} {n}");
        }
        if let Some(c) = totals {
            for (name, help, v) in [
                ("event_bus_events", "Events stored.", c.total_events),
                (
                    "event_bus_deliveries_pending",
                    "Deliveries not yet acknowledged.",
                    c.pending,
                ),
                (
                    "event_bus_deliveries_dead",
                    "Dead-lettered deliveries.",
                    c.dead,
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
            }
        }
        out
    }
}

/// Middleware counting every routed request (unmatched paths share one label).
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    metrics.record_request(&method, &route, status, started.elapsed().as_secs_f64());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_requests_latency_and_deliveries() {
        let m = Metrics::default();
        m.record_request("POST", "/events", 202, 0.02);
        m.record_request("POST", "/events", 202, 3.0);
        m.record_delivery("orders", Outcome::Dead);
        let text = m.render(None);
        assert!(text.contains("http_requests_total{service=\"event-bus\",method=\"POST\",route=\"/events\",status=\"202\"} 2"));
        assert!(text.contains("route=\"/events\",le=\"0.025\"} 1"));
        assert!(text.contains("route=\"/events\",le=\"+Inf\"} 2"));
        assert!(text.contains(
            "event_bus_delivery_attempts_total{subscriber=\"orders\",outcome=\"dead\"} 1"
        ));
    }
}
