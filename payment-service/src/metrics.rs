//! Prometheus metrics kept in-process (the shared crate has none yet): requests by route and
//! status with a latency histogram, and payment outcomes and provider attempts.

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
    payments: BTreeMap<&'static str, u64>,
    attempts: BTreeMap<&'static str, u64>,
}

/// The service's counters; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

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

    /// Counts a payment reaching `outcome` (`completed`, `failed`, `refunded`).
    pub fn record_payment(&self, outcome: &'static str) {
        self.with(|m| *m.payments.entry(outcome).or_default() += 1);
    }

    /// Counts one provider call ending in `result` (`ok`, `declined`, `transient`).
    pub fn record_attempt(&self, result: &'static str) {
        self.with(|m| *m.attempts.entry(result).or_default() += 1);
    }

    /// The Prometheus text exposition, with the undelivered outbox size as a gauge.
    pub fn render(&self, outbox_pending: Option<u64>) -> String {
        let mut out = String::new();
        let Ok(m) = self.0.lock() else {
            return out;
        };
        out.push_str("# HELP http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(out, "http_requests_total{{service=\"payment-service\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for ((method, route), h) in &m.latency {
            let labels =
                format!("service=\"payment-service\",method=\"{method}\",route=\"{route}\"");
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
        out.push_str("# HELP payments_total Payments that reached an outcome.\n");
        out.push_str("# TYPE payments_total counter\n");
        for (outcome, n) in &m.payments {
            let _ = writeln!(out, "payments_total{{outcome=\"{outcome}\"}} {n}");
        }
        out.push_str(
            "# HELP payment_provider_calls_total Provider charge and refund calls by result.\n",
        );
        out.push_str("# TYPE payment_provider_calls_total counter\n");
        for (result, n) in &m.attempts {
            let _ = writeln!(
                out,
                "payment_provider_calls_total{{result=\"{result}\"}} {n}"
            );
        }
        if let Some(n) = outbox_pending {
            out.push_str("# HELP payment_outbox_pending Events not yet acknowledged by the bus.\n");
            let _ = writeln!(
                out,
                "# TYPE payment_outbox_pending gauge\npayment_outbox_pending {n}"
            );
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
    fn render_lists_requests_latency_outcomes_and_attempts() {
        let m = Metrics::default();
        m.record_request("POST", "/api/payments/process", 201, 0.02);
        m.record_request("POST", "/api/payments/process", 201, 3.0);
        m.record_payment("completed");
        m.record_attempt("transient");
        m.record_attempt("transient");
        let text = m.render(Some(3));
        assert!(text.contains("route=\"/api/payments/process\",status=\"201\"} 2"));
        assert!(text.contains("route=\"/api/payments/process\",le=\"0.025\"} 1"));
        assert!(text.contains("payments_total{outcome=\"completed\"} 1"));
        assert!(text.contains("payment_provider_calls_total{result=\"transient\"} 2"));
        assert!(text.contains("payment_outbox_pending 3"));
    }
}
