//! Fan-out: one worker per subscriber, so a slow or dead subscriber never delays the others. Each
//! worker is woken by a `Notify` when events arrive and otherwise sleeps until its next delivery is
//! due; every attempt is `POST <url>/events` with the internal token and a per-attempt timeout.

use crate::domain::{DeliveryStatus, DueDelivery, Subscriber};
use crate::store::EventStore;
use shared::auth::INTERNAL_TOKEN_HEADER;
use shared::config::Secret;
use shared::metrics::Metrics;
use shared::retry::Backoff;
use shared::store::now_ms;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Deliveries fetched per round.
const BATCH: u32 = 50;
/// Longest sleep without looking for due deliveries (covers rows written by another process).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// What every worker shares: the store, the HTTP client and the retry schedule.
#[derive(Clone)]
pub struct DeliverySettings {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Delay schedule between attempts.
    pub backoff: Backoff,
    /// Longest one attempt may take.
    pub timeout: Duration,
    /// Sent as `x-internal-token`.
    pub internal_token: Secret<String>,
}

/// The wake-up signal of each subscriber's worker.
#[derive(Clone, Default)]
pub struct Wakers(Arc<Vec<(String, Arc<Notify>)>>);

impl Wakers {
    /// One signal per subscriber.
    pub fn new(subscribers: &[Subscriber]) -> Self {
        Self(Arc::new(
            subscribers
                .iter()
                .map(|s| (s.name.clone(), Arc::new(Notify::new())))
                .collect(),
        ))
    }

    /// Wakes every worker (a wake-up sent while a worker is busy is kept for its next wait).
    pub fn wake_all(&self) {
        for (_, n) in self.0.iter() {
            n.notify_one();
        }
    }

    fn of(&self, name: &str) -> Arc<Notify> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    }
}

/// One subscriber's delivery loop.
pub struct Worker {
    /// The subscriber served.
    pub subscriber: Subscriber,
    /// Event log.
    pub store: Arc<dyn EventStore>,
    /// Shared settings.
    pub settings: DeliverySettings,
    /// HTTP client (the per-attempt timeout is set per request).
    pub http: reqwest::Client,
    /// Its wake-up signal.
    pub wake: Arc<Notify>,
    /// Delivery counters.
    pub metrics: Metrics,
}

impl Worker {
    /// A worker for `subscriber` woken through `wakers`.
    pub fn new(
        subscriber: Subscriber,
        store: Arc<dyn EventStore>,
        settings: DeliverySettings,
        http: reqwest::Client,
        wakers: &Wakers,
        metrics: Metrics,
    ) -> Self {
        let wake = wakers.of(&subscriber.name);
        Self {
            subscriber,
            store,
            settings,
            http,
            wake,
            metrics,
        }
    }

    /// Delivers due events until `cancel` fires; pending rows left behind resume on restart.
    pub async fn run(self, cancel: CancellationToken) {
        let name = self.subscriber.name.as_str();
        let mut store_failures = 0u32;
        loop {
            let wait = match self.round(&cancel).await {
                Ok(wait) => {
                    store_failures = 0;
                    wait
                }
                Err(e) => {
                    let wait = self.settings.backoff.delay(store_failures);
                    store_failures = store_failures.saturating_add(1);
                    tracing::error!(subscriber = name, error = %e, "delivery store failed");
                    wait
                }
            };
            if cancel.is_cancelled() {
                return;
            }
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(wait) => {},
            }
        }
    }

    /// Attempts every due delivery once, in event order; returns how long to wait before the next round.
    async fn round(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Duration, shared::store::StoreError> {
        let name = self.subscriber.name.as_str();
        let due = self.store.due(name, now_ms(), BATCH).await?;
        for d in &due {
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Ok(Duration::ZERO),
                r = self.attempt(d) => r,
            };
            self.record(d, outcome).await?;
        }
        if due.len() as u32 == BATCH {
            return Ok(Duration::ZERO);
        }
        let next = self.store.next_due_at(name).await?;
        Ok(match next {
            Some(at) => {
                let ms = u64::try_from(at - now_ms()).unwrap_or(0);
                Duration::from_millis(ms).min(IDLE_POLL)
            }
            None => IDLE_POLL,
        })
    }

    async fn attempt(&self, d: &DueDelivery) -> Result<(), String> {
        let res = self
            .http
            .post(self.subscriber.events_url())
            .timeout(self.settings.timeout)
            .header(INTERNAL_TOKEN_HEADER, self.settings.internal_token.expose())
            .header("x-request-id", format!("event-{}", d.envelope.id))
            .json(&d.envelope)
            .send()
            .await;
        match res {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("subscriber answered {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Err(format!(
                "no answer within {} ms",
                self.settings.timeout.as_millis()
            )),
            Err(e) if e.is_connect() => Err("connection failed".to_string()),
            Err(e) => Err(format!("request failed: {e}")),
        }
    }

    async fn record(
        &self,
        d: &DueDelivery,
        outcome: Result<(), String>,
    ) -> Result<(), shared::store::StoreError> {
        let name = self.subscriber.name.as_str();
        let id = d.envelope.id.as_str();
        let now = now_ms();
        let error = match outcome {
            Ok(()) => {
                tracing::debug!(subscriber = name, event_id = id, "delivered");
                self.metrics.incr(
                    "event_bus_delivery_attempts_total",
                    "Delivery attempts by outcome.",
                    &[("subscriber", name), ("outcome", "delivered")],
                );
                return self.store.mark_delivered(id, name, now).await;
            }
            Err(e) => e,
        };
        let attempts = d.attempts.saturating_add(1);
        let wait = self.settings.backoff.delay(attempts.saturating_sub(1));
        let retry_at = now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
        let max = self.settings.max_attempts;
        match self
            .store
            .mark_failed(id, name, &error, max, retry_at, now)
            .await?
        {
            Some(DeliveryStatus::Dead) => {
                tracing::warn!(subscriber = name, event_id = id, attempts, error = %error, "delivery dead-lettered");
                self.metrics.incr(
                    "event_bus_delivery_attempts_total",
                    "Delivery attempts by outcome.",
                    &[("subscriber", name), ("outcome", "dead")],
                );
            }
            Some(_) => {
                tracing::info!(subscriber = name, event_id = id, attempts, retry_in_ms = wait.as_millis() as u64, error = %error, "delivery failed, will retry");
                self.metrics.incr(
                    "event_bus_delivery_attempts_total",
                    "Delivery attempts by outcome.",
                    &[("subscriber", name), ("outcome", "retried")],
                );
            }
            None => tracing::debug!(
                subscriber = name,
                event_id = id,
                "delivery changed meanwhile"
            ),
        }
        Ok(())
    }
}
