//! Prometheus metrics kept per service instance (not a global recorder, so services sharing one
//! process keep separate numbers): requests by route and status, a latency histogram, and named
//! business counters, rendered in the text exposition format on `GET /metrics` with the
//! service's `build_info` and the process's CPU, memory and descriptors (shared by every service
//! of one process, as in embedded mode).

mod process;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What one (method, route) pair has seen.
#[derive(Default)]
struct Series {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Inner {
    /// route → method → series; looked up by `&str`, so counting allocates only for a new pair.
    requests: BTreeMap<String, BTreeMap<String, Series>>,
    /// name → (help, label string → value)
    counters: BTreeMap<&'static str, (&'static str, BTreeMap<String, u64>)>,
}

/// One service's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    service: &'static str,
    version: &'static str,
    inner: Arc<Mutex<Inner>>,
}

/// A gauge read at render time. Gauges of one name are given one after another, one per label
/// set.
#[derive(Debug, Clone, Copy)]
pub struct Gauge<'a> {
    /// Metric name.
    pub name: &'a str,
    /// Its help text.
    pub help: &'a str,
    /// Labels besides `service` (e.g. `("upstream", "auth")`).
    pub labels: &'a [(&'a str, &'a str)],
    /// The value now.
    pub value: f64,
}

impl<'a> Gauge<'a> {
    /// A gauge without labels besides `service`.
    pub fn new(name: &'a str, help: &'a str, value: f64) -> Self {
        Self {
            name,
            help,
            labels: &[],
            value,
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Empty metrics for `service` built as `version` (its `CARGO_PKG_VERSION`, shown by
    /// `build_info`).
    pub fn new(service: &'static str, version: &'static str) -> Self {
        Self {
            service,
            version,
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    fn with(&self, f: impl FnOnce(&mut Inner)) {
        // A panic while holding the lock leaves plain counters: keep using them.
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard);
    }

    /// Counts one answered request and its latency. An extension method (anything but the nine
    /// standard ones) is counted as `OTHER`, the label the gateway gives refused heads: clients
    /// choose the method, and must not be able to add series without end.
    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "TRACE"
            | "CONNECT" => method,
            _ => "OTHER",
        };
        self.with(|m| {
            if !m.requests.contains_key(route) {
                m.requests.insert(route.to_string(), BTreeMap::new());
            }
            let Some(methods) = m.requests.get_mut(route) else {
                return;
            };
            if !methods.contains_key(method) {
                methods.insert(method.to_string(), Series::default());
            }
            let Some(series) = methods.get_mut(method) else {
                return;
            };
            *series.statuses.entry(status).or_default() += 1;
            let h = &mut series.latency;
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        });
    }

    /// Adds one to the counter `name` with `labels` (e.g. `("outcome", "reserved")`).
    pub fn incr(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)]) {
        self.add(name, help, labels, 1);
    }

    /// Adds `n` to the counter `name` with `labels`.
    pub fn add(&self, name: &'static str, help: &'static str, labels: &[(&str, &str)], n: u64) {
        let key = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect::<Vec<_>>()
            .join(",");
        self.with(|m| {
            *m.counters
                .entry(name)
                .or_insert_with(|| (help, BTreeMap::new()))
                .1
                .entry(key)
                .or_default() += n;
        });
    }

    /// The Prometheus text exposition, with `gauges` read by the caller just now, then
    /// `build_info` and the process's figures (read from `/proc/self` now; Linux only).
    pub fn render(&self, gauges: &[Gauge<'_>]) -> String {
        let mut out = String::new();
        let service = self.service;
        self.with(|m| {
            out.push_str("# HELP http_requests_total HTTP requests answered.\n");
            out.push_str("# TYPE http_requests_total counter\n");
            for (route, methods) in &m.requests {
                for (method, series) in methods {
                    for (status, n) in &series.statuses {
                        let _ = writeln!(
                            out,
                            "http_requests_total{{service=\"{service}\",method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                            escape(route)
                        );
                    }
                }
            }
            out.push_str("# HELP http_request_duration_seconds Request latency.\n");
            out.push_str("# TYPE http_request_duration_seconds histogram\n");
            let latencies = m
                .requests
                .iter()
                .flat_map(|(route, methods)| methods.iter().map(move |(method, s)| (route, method, &s.latency)));
            for (route, method, h) in latencies {
                let l = format!(
                    "service=\"{service}\",method=\"{method}\",route=\"{}\"",
                    escape(route)
                );
                for (le, n) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(out, "http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}");
                }
                let _ = writeln!(out, "http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "http_request_duration_seconds_sum{{{l}}} {}", h.sum);
                let _ = writeln!(out, "http_request_duration_seconds_count{{{l}}} {}", h.count);
            }
            for (name, (help, series)) in &m.counters {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
                for (labels, n) in series {
                    let _ = writeln!(out, "{name}{{service=\"{service}\",{labels}}} {n}");
                }
            }
        });
        let mut previous = None;
        for g in gauges {
            let name = g.name;
            if previous != Some(name) {
                let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} gauge", g.help);
                previous = Some(name);
            }
            let _ = write!(out, "{name}{{service=\"{service}\"");
            for (k, v) in g.labels {
                let _ = write!(out, ",{k}=\"{}\"", escape(v));
            }
            let _ = writeln!(out, "}} {}", g.value);
        }
        let version = escape(self.version);
        let _ = writeln!(
            out,
            "# HELP build_info The service's name and version; always 1.\n# TYPE build_info gauge\n\
             build_info{{service=\"{service}\",version=\"{version}\"}} 1"
        );
        for f in process::figures() {
            let (name, help, kind, value) = (f.name, f.help, f.kind, f.value);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{service=\"{service}\"}} {value}"
            );
        }
        out
    }
}

/// Middleware counting every answer by its request's matched path (`unmatched` when no route
/// matched); `shared::http::standard_layers` puts it around the routes and the fallbacks.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    // Cheap clones (a standard method is a tag, a matched path a shared string): nothing is
    // allocated per request.
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let res = next.run(req).await;
    metrics.record_request(
        method.as_str(),
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// A `GET /metrics` answer carrying `text`.
pub fn exposition(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_histogram_counters_and_gauges() {
        let m = Metrics::new("svc", "1.2.3");
        m.record_request("GET", "/api/x", 200, 0.004);
        m.record_request("GET", "/api/x", 200, 9.0);
        m.incr("widgets_total", "Widgets by outcome.", &[("outcome", "ok")]);
        m.incr("widgets_total", "Widgets by outcome.", &[("outcome", "ok")]);
        let text = m.render(&[
            Gauge::new("queue_depth", "Items waiting.", 3.0),
            Gauge {
                name: "breaker",
                help: "State.",
                labels: &[("upstream", "a")],
                value: 0.0,
            },
            Gauge {
                name: "breaker",
                help: "State.",
                labels: &[("upstream", "b\"")],
                value: 1.0,
            },
        ]);
        assert!(text.contains(
            "http_requests_total{service=\"svc\",method=\"GET\",route=\"/api/x\",status=\"200\"} 2"
        ));
        assert!(text.contains("route=\"/api/x\",le=\"0.005\"} 1"));
        assert!(text.contains("route=\"/api/x\",le=\"+Inf\"} 2"));
        assert!(text.contains("widgets_total{service=\"svc\",outcome=\"ok\"} 2"));
        assert!(text.contains("queue_depth{service=\"svc\"} 3"));
        assert!(text.contains("breaker{service=\"svc\",upstream=\"a\"} 0\n"));
        assert!(text.contains("breaker{service=\"svc\",upstream=\"b\\\"\"} 1\n"));
        assert_eq!(text.matches("# TYPE breaker gauge").count(), 1, "{text}");
        assert!(text.contains(
            "# TYPE build_info gauge\nbuild_info{service=\"svc\",version=\"1.2.3\"} 1\n"
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn extension_methods_share_one_series() {
        let m = Metrics::new("svc", "0.0.0");
        for method in ["FOO", "BAR1", "get", "PROPFIND"] {
            m.record_request(method, "unmatched", 405, 0.001);
        }
        m.record_request("PATCH", "unmatched", 404, 0.001);
        let text = m.render(&[]);
        let series: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("http_requests_total{"))
            .collect();
        assert_eq!(
            series,
            [
                r#"http_requests_total{service="svc",method="OTHER",route="unmatched",status="405"} 4"#,
                r#"http_requests_total{service="svc",method="PATCH",route="unmatched",status="404"} 1"#,
            ]
        );
    }

    #[test]
    fn the_process_figures_follow_under_their_standard_names_and_types() {
        let text = Metrics::new("svc", "0.0.0").render(&[]);
        for (name, kind) in [
            ("process_cpu_seconds_total", "counter"),
            ("process_resident_memory_bytes", "gauge"),
            ("process_open_fds", "gauge"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n{name}{{service=\"svc\"}} ")),
                "{text}"
            );
        }
    }
}
