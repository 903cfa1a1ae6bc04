//! One subscriber's delivery loop: takes handed-over deliveries, claims due ones as slots free
//! up, attempts each (`POST <url>/events`), and records acknowledgements together.

use super::{DeliverySettings, Inbox, Inboxes, ACK_BATCH, ACK_DELAY, CLAIM_BATCH, IDLE_POLL};
use crate::domain::{DeliveryStatus, DueDelivery, Subscriber};
use crate::store::{Claim, Deliveries, EventStore, FailedAttempt};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use shared::auth::INTERNAL_TOKEN_HEADER;
use shared::metrics::Metrics;
use shared::retry::Failures;
use shared::store::{millis, now_ms, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
    /// Its inbox and wake-up signals.
    pub inbox: Arc<Inbox>,
    /// Delivery counters.
    pub metrics: Metrics,
}

/// An attempt's delivery and how it went.
type Attempted = (DueDelivery, Result<(), String>);

impl Worker {
    /// A worker for `subscriber`, fed and woken through its inbox in `inboxes`.
    pub fn new(
        subscriber: Subscriber,
        store: Arc<dyn EventStore>,
        settings: DeliverySettings,
        http: reqwest::Client,
        inboxes: &Inboxes,
        metrics: Metrics,
    ) -> Self {
        let inbox = inboxes.of(subscriber.name());
        Self {
            subscriber,
            store,
            settings,
            http,
            inbox,
            metrics,
        }
    }

    /// Delivers due events until `cancel` fires. Attempts still in flight then are abandoned and
    /// their claims given back (due at once on restart); a crash leaves them to their lease.
    pub async fn run(self, cancel: CancellationToken) {
        let name = self.subscriber.name();
        let limit = self.settings.concurrency.max(1);
        let mut in_flight = FuturesUnordered::new();
        let mut claimed: HashSet<String> = HashSet::new();
        // Whether to look for due deliveries as soon as a slot is free: after a claim that found
        // as many as it asked for, a wake-up, or the wait for the next due time.
        let mut look = true;
        let mut wait = Duration::ZERO;
        let mut store_failures = Failures::new(self.settings.backoff);
        // Acknowledged deliveries not recorded yet, and when they must be.
        let mut acks: Vec<String> = Vec::new();
        let mut flush_at = tokio::time::Instant::now();
        self.inbox.open();
        loop {
            // Deliveries handed over first: they are leased already.
            if in_flight.len() < limit {
                for d in self.inbox.take(limit - in_flight.len()) {
                    claimed.insert(d.event_id.clone());
                    in_flight.push(self.attempt(d));
                }
            }
            if look && in_flight.len() < limit {
                let room = (limit - in_flight.len()).min(CLAIM_BATCH);
                match self.claim(room).await {
                    Ok((due, next)) => {
                        store_failures.succeeded();
                        look = due.len() == room;
                        wait = next;
                        for d in due {
                            claimed.insert(d.event_id.clone());
                            in_flight.push(self.attempt(d));
                        }
                    }
                    Err(e) => {
                        look = false;
                        wait = self.store_backoff(&mut store_failures, &e);
                    }
                }
                if look && in_flight.len() < limit {
                    continue;
                }
            }
            if !acks.is_empty()
                && (acks.len() >= ACK_BATCH
                    || in_flight.is_empty()
                    || tokio::time::Instant::now() >= flush_at)
            {
                let batch = std::mem::take(&mut acks);
                if let Err(e) = self.record_delivered(&batch).await {
                    // Unrecorded acknowledgements stay leased, then are attempted again.
                    look = false;
                    wait = self.store_backoff(&mut store_failures, &e);
                }
                for id in &batch {
                    claimed.remove(id);
                }
            }
            let room = in_flight.len() < limit;
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(first) = in_flight.next(), if !in_flight.is_empty() => {
                    // Every attempt that has finished too.
                    let mut done = vec![first];
                    while let Some(Some(more)) = in_flight.next().now_or_never() {
                        done.push(more);
                    }
                    if acks.is_empty() {
                        flush_at = tokio::time::Instant::now() + ACK_DELAY;
                    }
                    for (d, outcome) in done {
                        match outcome {
                            Ok(()) => acks.push(d.event_id),
                            Err(error) => {
                                claimed.remove(&d.event_id);
                                if let Err(e) = self.record_failure(&d, &error).await {
                                    look = false;
                                    wait = self.store_backoff(&mut store_failures, &e);
                                }
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(flush_at), if !acks.is_empty() => {}
                _ = self.inbox.arrived.notified(), if room => {}
                _ = self.inbox.wake.notified(), if room => look = true,
                _ = tokio::time::sleep(wait), if room && !look => look = true,
            }
        }
        drop(in_flight);
        claimed.extend(self.inbox.close().into_iter().map(|d| d.event_id));
        if !acks.is_empty() {
            if let Err(e) = self.record_delivered(&acks).await {
                tracing::warn!(subscriber = name, error = %e, "acknowledgements not recorded; redelivered after their lease");
            }
            for id in &acks {
                claimed.remove(id);
            }
        }
        if !claimed.is_empty() {
            let ids: Vec<String> = claimed.into_iter().collect();
            let given_back = Deliveries::to(name, &ids);
            if let Err(e) = self.store.release(given_back, now_ms()).await {
                tracing::warn!(subscriber = name, error = %e, "claims not given back; they end with their lease");
            }
        }
    }

    /// Logs a store failure and returns how long to wait before using the store again.
    fn store_backoff(&self, failures: &mut Failures, e: &StoreError) -> Duration {
        let wait = failures.failed();
        let name = self.subscriber.name();
        tracing::error!(subscriber = name, error = %e, "delivery store failed");
        wait
    }

    /// Claims up to `room` due deliveries; also says how long to wait before looking again when
    /// fewer were due.
    async fn claim(&self, room: usize) -> Result<(Vec<DueDelivery>, Duration), StoreError> {
        let name = self.subscriber.name();
        let now = now_ms();
        let limit = u32::try_from(room).unwrap_or(u32::MAX);
        let claim = Claim {
            subscriber: name,
            now,
            lease_until: now + self.settings.lease_ms(),
            limit,
        };
        let due = self.store.claim(claim).await?;
        if due.len() == room {
            return Ok((due, Duration::ZERO));
        }
        let wait = match self.store.next_due_at(name).await? {
            Some(at) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
            None => IDLE_POLL,
        };
        Ok((due, wait.min(IDLE_POLL)))
    }

    async fn attempt(&self, d: DueDelivery) -> Attempted {
        let res = self
            .http
            .post(self.subscriber.events_url())
            .timeout(self.settings.timeout)
            .header(INTERNAL_TOKEN_HEADER, self.settings.internal_token.expose())
            .header("x-request-id", format!("event-{}", d.event_id))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(d.body.clone())
            .send()
            .await;
        let outcome = match res {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("subscriber answered {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => Err(format!(
                "no answer within {} ms",
                self.settings.timeout.as_millis()
            )),
            Err(e) if e.is_connect() => Err("connection failed".to_string()),
            Err(e) => Err(format!("request failed: {e}")),
        };
        (d, outcome)
    }

    /// Records acknowledged deliveries in one write.
    async fn record_delivered(&self, event_ids: &[String]) -> Result<(), StoreError> {
        let name = self.subscriber.name();
        let delivered = Deliveries::to(name, event_ids);
        self.store.mark_delivered(delivered, now_ms()).await?;
        tracing::debug!(subscriber = name, events = ?event_ids, "delivered");
        self.count("delivered", event_ids.len() as u64);
        Ok(())
    }

    /// Counts `n` attempts with `outcome` (`delivered`, `retried`, `dead`).
    fn count(&self, outcome: &str, n: u64) {
        self.metrics.add(
            "event_bus_delivery_attempts_total",
            "Delivery attempts by outcome.",
            &[("subscriber", self.subscriber.name()), ("outcome", outcome)],
            n,
        );
    }

    /// Records a failed attempt: retried after its backoff, or dead-lettered.
    async fn record_failure(&self, d: &DueDelivery, error: &str) -> Result<(), StoreError> {
        let name = self.subscriber.name();
        let now = now_ms();
        let id = d.event_id.as_str();
        let attempts = d.attempts.saturating_add(1);
        let wait = self.settings.backoff.delay(attempts.saturating_sub(1));
        let retry_at = now.saturating_add(millis(wait));
        let failed = FailedAttempt {
            event_id: id,
            subscriber: name,
            error,
            max_attempts: self.settings.max_attempts,
            retry_at,
        };
        match self.store.mark_failed(failed, now).await? {
            Some(DeliveryStatus::Dead) => {
                tracing::warn!(subscriber = name, event_id = id, attempts, error = %error, "delivery dead-lettered");
                self.count("dead", 1);
            }
            Some(_) => {
                tracing::info!(subscriber = name, event_id = id, attempts, retry_in_ms = wait.as_millis() as u64, error = %error, "delivery failed, will retry");
                self.count("retried", 1);
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
