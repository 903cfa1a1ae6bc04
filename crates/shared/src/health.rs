//! `/health` answers kept current by a background task, so that a liveness probe never waits on a
//! database or another service: the task runs the service's probe every `HEALTH_REFRESH_MS`
//! (default 1000) and stores the answer's bytes; a request only reads them. Every service gives
//! its answer one shape ([`Report`]).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

type Probe = Box<dyn Fn() -> BoxFuture<'static, Value> + Send + Sync>;

/// How long a probe waits for its database before reporting it down.
pub const PROBE_WAIT: Duration = Duration::from_millis(1000);

/// Whether `check` (a database ping) succeeds within [`PROBE_WAIT`].
pub async fn answers<T, E>(check: impl Future<Output = Result<T, E>>) -> bool {
    matches!(tokio::time::timeout(PROBE_WAIT, check).await, Ok(Ok(_)))
}

/// The one shape of every `/health` answer: `{status, service, <dependency>: "up" | "down", …,
/// <figures>…}`. `status` is `healthy` while every dependency it names answered, else `degraded`
/// (the answer is 200 either way: it is liveness; `/ready` is what a dependency fails). A service
/// with a database names it `database`.
#[derive(Debug, Clone)]
pub struct Report {
    healthy: bool,
    body: serde_json::Map<String, Value>,
}

/// How `/health` spells a dependency's state.
pub fn state(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

impl Report {
    /// The report of `service`, healthy until a dependency is down.
    pub fn new(service: &str) -> Self {
        let mut body = serde_json::Map::new();
        body.insert("status".into(), Value::Null);
        body.insert("service".into(), service.into());
        Self {
            healthy: true,
            body,
        }
    }

    /// `name: "up"` or `"down"`; down makes the report `degraded`.
    pub fn dependency(self, name: &str, up: bool) -> Self {
        let healthy = self.healthy && up;
        Self {
            healthy,
            ..self.field(name, state(up))
        }
    }

    /// `name: {key: "up" | "down", …}` for a group of dependencies (the gateway's upstreams); any
    /// one down makes the report `degraded`.
    pub fn dependencies<'a>(
        self,
        name: &str,
        states: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> Self {
        let mut healthy = self.healthy;
        let mut group = serde_json::Map::new();
        for (key, up) in states {
            healthy &= up;
            group.insert(key.into(), state(up).into());
        }
        Self {
            healthy,
            ..self.field(name, group)
        }
    }

    /// `name: value`, a figure or state that does not make the report degraded.
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.body.insert(name.into(), value.into());
        self
    }

    /// The answer's JSON.
    pub fn into_json(mut self) -> Value {
        let status = if self.healthy { "healthy" } else { "degraded" };
        self.body.insert("status".into(), status.into());
        Value::Object(self.body)
    }
}

/// The `/health` answer of a service whose only dependency is its database:
/// `{status, service, database}`, `database` being `up` when `ping` succeeds within
/// [`PROBE_WAIT`], else `down` (and `status` then `degraded`).
pub async fn database_report<T, E>(
    service: &str,
    ping: impl Future<Output = Result<T, E>>,
) -> Value {
    Report::new(service)
        .dependency("database", answers(ping).await)
        .into_json()
}

/// A service's `/health` answer and the probe that refreshes it.
#[derive(Clone)]
pub struct HealthView {
    inner: Arc<Inner>,
}

struct Inner {
    answer: RwLock<Bytes>,
    probe: Probe,
    every: Duration,
}

impl HealthView {
    /// A view answering `initial` until the first refresh, refreshed from `probe` every `every`
    /// once [`HealthView::run`] runs. The probe must bound its own waits (it is awaited in turn).
    pub fn new<F, Fut>(every: Duration, initial: &Value, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        Self {
            inner: Arc::new(Inner {
                answer: RwLock::new(Bytes::from(initial.to_string())),
                probe: Box::new(move || Box::pin(probe())),
                every,
            }),
        }
    }

    /// A view whose first answer is the probe's (run once now).
    pub async fn probed<F, Fut>(every: Duration, probe: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        let initial = probe().await;
        Self::new(every, &initial, probe)
    }

    /// [`HealthView::probed`] with a probe of `subject` (a store, usually): `report` gets a clone
    /// of it at each refresh.
    pub async fn probing<S, F, Fut>(every: Duration, subject: S, report: F) -> Self
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        Self::probed(every, move || report(subject.clone())).await
    }

    /// The current answer: 200 with the stored JSON bytes.
    pub fn response(&self) -> Response {
        let body = match self.inner.answer.read() {
            Ok(answer) => answer.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    }

    /// Runs the probe once and stores its answer.
    pub async fn refresh(&self) {
        let answer = Bytes::from((self.inner.probe)().await.to_string());
        match self.inner.answer.write() {
            Ok(mut current) => *current = answer,
            Err(poisoned) => *poisoned.into_inner() = answer,
        }
    }

    /// Refreshes every interval until `cancel` fires (the first answer is the one the view was
    /// made with).
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.inner.every) => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.refresh() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test]
    async fn a_database_report_says_whether_the_ping_answered() {
        let up = database_report("svc", async { Ok::<(), ()>(()) }).await;
        assert_eq!(
            up,
            json!({"status": "healthy", "service": "svc", "database": "up"})
        );
        let down = database_report("svc", async { Err::<(), ()>(()) }).await;
        assert_eq!(
            down,
            json!({"status": "degraded", "service": "svc", "database": "down"})
        );
    }

    #[test]
    fn a_report_is_degraded_when_any_dependency_is_down_and_keeps_its_fields_in_order() {
        let report = Report::new("svc")
            .dependency("database", true)
            .field("pending", 3)
            .dependencies("services", [("a", true), ("b", false)])
            .field("redis", "not configured")
            .into_json();
        assert_eq!(
            report,
            json!({"status": "degraded", "service": "svc", "database": "up", "pending": 3,
                   "services": {"a": "up", "b": "down"}, "redis": "not configured"})
        );
        let keys: Vec<_> = report.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["status", "service", "database", "pending", "services", "redis"]
        );
        let figures_never_degrade = Report::new("svc").field("dead", 5).into_json();
        assert_eq!(figures_never_degrade["status"], "healthy");
    }

    #[tokio::test(start_paused = true)]
    async fn answers_from_the_last_probe_without_probing_per_request() {
        async fn body(view: &HealthView) -> Value {
            let bytes = axum::body::to_bytes(view.response().into_body(), 1024)
                .await
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        }
        let probes = Arc::new(AtomicU64::new(0));
        let counted = probes.clone();
        let view = HealthView::probed(Duration::from_secs(1), move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move { json!({ "status": "healthy", "probe": n }) }
        })
        .await;
        for _ in 0..100 {
            assert_eq!(body(&view).await["probe"], 1);
        }
        assert_eq!(probes.load(Ordering::SeqCst), 1);
        let cancel = CancellationToken::new();
        let running = tokio::spawn(view.clone().run(cancel.clone()));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        // Refreshed after each second: probes 2 and 3.
        assert_eq!(body(&view).await["probe"], 3);
        cancel.cancel();
        running.await.unwrap();
        let ct = view.response().headers()[header::CONTENT_TYPE].clone();
        assert_eq!(ct, "application/json");
    }
}
