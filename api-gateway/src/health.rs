//! What the gateway knows of its upstreams: every service's and the event bus's `/health`, checked
//! all at once with a short timeout by the background refresh of the gateway's own `/health` view,
//! never per request. `/ready` reads the same states (the proxied upstreams must be up).

use crate::upstream::breaker::Breaker;
use serde_json::{json, Map, Value};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long one upstream health check may take.
const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

/// The upstreams whose health the gateway reports, and their states at the last check.
pub struct Upstreams {
    client: reqwest::Client,
    /// `(name in /health, base URL, needed for readiness)`.
    targets: Vec<(&'static str, String, bool)>,
    /// Whether each target answered at the last check (none before the first).
    up: RwLock<Vec<bool>>,
    /// The proxied upstreams' circuit breakers, by name.
    breakers: Arc<[(&'static str, Arc<Breaker>)]>,
}

impl Upstreams {
    /// Checks `targets` (`(name, base URL, needed for readiness)`); all count as down until the
    /// first [`Upstreams::check`]. The report shows the `breakers`' states too.
    pub fn new(
        targets: Vec<(&'static str, String, bool)>,
        breakers: Arc<[(&'static str, Arc<Breaker>)]>,
    ) -> Self {
        let up = RwLock::new(vec![false; targets.len()]);
        Self {
            client: shared::client::http_client(CHECK_TIMEOUT),
            targets,
            up,
            breakers,
        }
    }

    async fn is_up(&self, base: &str) -> bool {
        let call = self.client.get(format!("{base}/health")).send();
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, call).await,
            Ok(Ok(res)) if res.status().is_success()
        )
    }

    /// Checks every target at once and remembers the states.
    pub async fn check(&self) {
        let checks = self.targets.iter().map(|(_, url, _)| self.is_up(url));
        let states = futures_util::future::join_all(checks).await;
        if let Ok(mut up) = self.up.write() {
            *up = states;
        }
    }

    fn states(&self) -> Vec<bool> {
        match self.up.read() {
            Ok(up) => up.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The `/health` answer from the last check (`shared::health`'s shape: `degraded` while an
    /// upstream is down), with the breakers' and Redis's states.
    pub fn report(&self, redis: &str) -> Value {
        let states = self.states();
        let services = self
            .targets
            .iter()
            .zip(states)
            .map(|((name, _, _), up)| (*name, up));
        let breakers: Map<String, Value> = self
            .breakers
            .iter()
            .map(|(name, b)| (name.to_string(), json!(b.state().as_str())))
            .collect();
        shared::health::Report::new(crate::SERVICE)
            .dependencies("services", services)
            .field("breakers", breakers)
            .field("redis", redis)
            .into_json()
    }

    /// `Ok` when every target needed for readiness was up at the last check.
    pub fn ready(&self) -> Result<(), String> {
        let states = self.states();
        let down: Vec<&str> = self
            .targets
            .iter()
            .zip(&states)
            .filter(|((_, _, needed), up)| *needed && !**up)
            .map(|((name, _, _), _)| *name)
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(format!("upstreams down: {}", down.join(", ")))
        }
    }
}
