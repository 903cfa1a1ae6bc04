//! Prometheus metrics kept in-process (the shared crate has none yet): requests by route and
//! status with a latency histogram, reservation outcomes and product cache hits/misses.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
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
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    reservations: Mutex<BTreeMap<&'static str, u64>>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
}

/// The service's counters; cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Inner>);

impl Metrics {
    /// Counts one answered request.
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.0.requests.lock() {
            *m.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
        if let Ok(mut m) = self.0.latency.lock() {
            let h = m
                .entry((method.to_string(), route.to_string()))
                .or_default();
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// Counts a reservation call by outcome (`reserved`, `repeated`, `insufficient_stock`, …).
    pub fn record_reservation(&self, outcome: &'static str) {
        if let Ok(mut m) = self.0.reservations.lock() {
            *m.entry(outcome).or_default() += 1;
        }
    }

    /// Counts a cache lookup.
    pub fn record_cache(&self, hit: bool) {
        let counter = if hit {
            &self.0.cache_hits
        } else {
            &self.0.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let labels = |method: &str, route: &str| {
            format!(
                "service=\"{}\",method=\"{method}\",route=\"{route}\"",
                crate::SERVICE_NAME
            )
        };
        out.push_str("# HELP http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        if let Ok(m) = self.0.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let l = labels(method, route);
                let _ = writeln!(out, "http_requests_total{{{l},status=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        if let Ok(m) = self.0.latency.lock() {
            for ((method, route), h) in m.iter() {
                let l = labels(method, route);
                for (le, n) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}"
                    );
                }
                let c = h.count;
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {c}"
                );
                let _ = writeln!(out, "http_request_duration_seconds_sum{{{l}}} {}", h.sum);
                let _ = writeln!(out, "http_request_duration_seconds_count{{{l}}} {c}");
            }
        }
        out.push_str("# HELP product_reservations_total Reservation calls by outcome.\n");
        out.push_str("# TYPE product_reservations_total counter\n");
        if let Ok(m) = self.0.reservations.lock() {
            for (outcome, n) in m.iter() {
                let _ = writeln!(
                    out,
                    "product_reservations_total{{outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP product_cache_lookups_total Product cache lookups by result.\n");
        out.push_str("# TYPE product_cache_lookups_total counter\n");
        for (result, counter) in [("hit", &self.0.cache_hits), ("miss", &self.0.cache_misses)] {
            let n = counter.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "product_cache_lookups_total{{result=\"{result}\"}} {n}"
            );
        }
        out
    }
}

/// Middleware counting every routed request by its matched route.
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
    fn render_lists_requests_latency_reservations_and_cache() {
        let m = Metrics::default();
        m.record_request("GET", "/api/products", 200, 0.02);
        m.record_request("GET", "/api/products", 200, 3.0);
        m.record_reservation("insufficient_stock");
        m.record_cache(true);
        let text = m.render();
        assert!(text.contains("http_requests_total{service=\"product-service\",method=\"GET\",route=\"/api/products\",status=\"200\"} 2"));
        assert!(text.contains("route=\"/api/products\",le=\"0.025\"} 1"));
        assert!(text.contains("route=\"/api/products\",le=\"+Inf\"} 2"));
        assert!(text.contains("product_reservations_total{outcome=\"insufficient_stock\"} 1"));
        assert!(text.contains("product_cache_lookups_total{result=\"hit\"} 1"));
        assert!(text.contains("product_cache_lookups_total{result=\"miss\"} 0"));
    }
}
