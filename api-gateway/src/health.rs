//! Checks of the upstream services' `/health`: all at once with a short timeout, for the gateway's
//! `/health` (every service and the event bus) and `/ready` (the proxied ones, cached about 1 s).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one upstream health check may take.
const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a readiness answer is reused.
const READY_TTL: Duration = Duration::from_secs(1);

/// The upstreams whose health the gateway reports.
pub struct Upstreams {
    client: reqwest::Client,
    /// `(name in /health, base URL, needed for readiness)`.
    targets: Vec<(&'static str, String, bool)>,
    last_ready: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Upstreams {
    /// Checks `targets` (`(name, base URL, needed for readiness)`).
    pub fn new(targets: Vec<(&'static str, String, bool)>) -> Self {
        Self {
            client: shared::client::http_client(CHECK_TIMEOUT),
            targets,
            last_ready: Mutex::new(None),
        }
    }

    async fn is_up(&self, base: &str) -> bool {
        let call = self.client.get(format!("{base}/health")).send();
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, call).await,
            Ok(Ok(res)) if res.status().is_success()
        )
    }

    /// Every target's state, in configuration order.
    pub async fn check_all(&self) -> Vec<(&'static str, bool)> {
        let checks = self
            .targets
            .iter()
            .map(|(name, url, _)| async move { (*name, self.is_up(url).await) });
        futures_util::future::join_all(checks).await
    }

    /// `Ok` when every target needed for readiness answers; reuses an answer for about 1 s.
    pub async fn ready(&self) -> Result<(), String> {
        if let Ok(guard) = self.last_ready.lock() {
            if let Some((at, answer)) = guard.as_ref() {
                if at.elapsed() < READY_TTL {
                    return answer.clone();
                }
            }
        }
        let checks = self
            .targets
            .iter()
            .filter(|(_, _, needed)| *needed)
            .map(|(name, url, _)| async move { (*name, self.is_up(url).await) });
        let down: Vec<&str> = futures_util::future::join_all(checks)
            .await
            .into_iter()
            .filter(|(_, up)| !up)
            .map(|(name, _)| name)
            .collect();
        let answer = if down.is_empty() {
            Ok(())
        } else {
            Err(format!("upstreams down: {}", down.join(", ")))
        };
        if let Ok(mut guard) = self.last_ready.lock() {
            *guard = Some((Instant::now(), answer.clone()));
        }
        answer
    }
}
