//! Fan-out: one worker per subscriber, so a slow or dead subscriber never delays the others. Each
//! worker keeps up to `DELIVERY_CONCURRENCY` attempts in flight: it takes the deliveries a publish
//! handed to its inbox (leased to this process when stored), claims due ones from the store (a
//! lease, so no other replica takes them meanwhile) as slots free up, is woken the moment events
//! are stored, and otherwise sleeps until its next delivery is due.
//! Every attempt is `POST <url>/events` with the internal token and a per-attempt timeout, on
//! kept-alive connections; the acknowledgements that completed together are recorded in one
//! store write.

use crate::domain::{delivery_body, DeliveryStatus, DueDelivery, Subscriber, Subscription};
use crate::store::EventStore;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use shared::auth::INTERNAL_TOKEN_HEADER;
use shared::config::Secret;
use shared::events::EventEnvelope;
use shared::metrics::Metrics;
use shared::retry::Backoff;
use shared::store::{now_ms, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Most deliveries claimed in one store write.
const CLAIM_BATCH: usize = 64;
/// Acknowledgements recorded in one store write at most, and the longest one waits for others
/// to share that write (the delivery is leased meanwhile; only its record waits).
const ACK_BATCH: usize = 256;
const ACK_DELAY: Duration = Duration::from_millis(2);
/// Longest sleep without looking for due deliveries (covers rows written by another process).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How much longer than its attempts may take a claim lasts: only a bus that stopped without
/// giving its claims back (a crash) leaves deliveries leased, and they are due again after it.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

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
    /// Attempts in flight per subscriber.
    pub concurrency: usize,
}

/// Deliveries an inbox holds, in windows of attempts (`DELIVERY_CONCURRENCY`).
const INBOX_WINDOWS: usize = 4;

impl DeliverySettings {
    /// How long a claim or a handed-over delivery is leased, in ms: it may wait behind a full
    /// inbox and a full window of attempts before its own attempt ends, plus [`LEASE_MARGIN`].
    pub fn lease_ms(&self) -> i64 {
        millis(self.timeout * (INBOX_WINDOWS as u32 + 2) + LEASE_MARGIN)
    }

    /// Deliveries a subscriber's inbox holds: none with one attempt at a time, which keeps
    /// arrival order only if every delivery is claimed from the store in that order.
    fn inbox_capacity(&self) -> usize {
        if self.concurrency <= 1 {
            0
        } else {
            self.concurrency * INBOX_WINDOWS
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// One subscriber's inbox: deliveries handed over by the publish that stored them (already leased
/// to this process, so the worker makes no claim for them), and its two wake-up signals.
#[derive(Default)]
pub struct Inbox {
    /// Open while its worker runs; at most `capacity` deliveries wait.
    queue: std::sync::Mutex<(bool, std::collections::VecDeque<DueDelivery>)>,
    capacity: usize,
    /// Deliveries were handed over.
    arrived: Notify,
    /// Due deliveries may be in the store (events stored unleased, replays, releases).
    wake: Notify,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, std::collections::VecDeque<DueDelivery>)> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes `d` if the worker runs and has room; otherwise gives it back.
    fn offer(&self, d: DueDelivery) -> Result<(), DueDelivery> {
        let mut q = self.lock();
        if !q.0 || q.1.len() >= self.capacity {
            return Err(d);
        }
        q.1.push_back(d);
        drop(q);
        self.arrived.notify_one();
        Ok(())
    }

    /// Whether the worker runs and takes handed-over deliveries at all.
    fn takes_handovers(&self) -> bool {
        self.capacity > 0 && self.lock().0
    }

    fn open(&self) {
        self.lock().0 = true;
    }

    /// Up to `n` waiting deliveries, oldest first.
    fn take(&self, n: usize) -> Vec<DueDelivery> {
        let mut q = self.lock();
        let n = n.min(q.1.len());
        q.1.drain(..n).collect()
    }

    /// Closes the inbox; returns what still waited in it.
    fn close(&self) -> Vec<DueDelivery> {
        let mut q = self.lock();
        q.0 = false;
        q.1.drain(..).collect()
    }
}

/// The subscribers' subscriptions and, in the same order, their workers' inboxes; and the lease
/// of a delivery handed over.
#[derive(Clone, Default)]
pub struct Inboxes {
    subscriptions: Arc<[Subscription]>,
    inboxes: Arc<[Arc<Inbox>]>,
    lease_ms: i64,
}

impl Inboxes {
    /// One inbox per subscriber, sized and leased as `settings` say.
    pub fn new(subscribers: &[Subscriber], settings: &DeliverySettings) -> Self {
        let inbox = || {
            Arc::new(Inbox {
                capacity: settings.inbox_capacity(),
                ..Inbox::default()
            })
        };
        Self {
            subscriptions: subscribers.iter().map(|s| s.subscription.clone()).collect(),
            inboxes: subscribers.iter().map(|_| inbox()).collect(),
            lease_ms: settings.lease_ms(),
        }
    }

    /// Wakes every worker to look in the store (a wake-up sent while a worker is busy is kept for
    /// its next wait).
    pub fn wake_all(&self) {
        for inbox in self.inboxes.iter() {
            inbox.wake.notify_one();
        }
    }

    /// Who receives which events: one subscription per subscriber.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    /// Stores `events` with a delivery to each subscriber that wants its type. While workers take
    /// handed-over deliveries, the new ones are stored leased to this process and handed straight
    /// to them (no worker claims them from the store); those a worker cannot take are given back
    /// to the store, due at once. Otherwise the workers are woken to claim them. Returns the ids
    /// newly stored.
    pub async fn publish(
        &self,
        store: &dyn EventStore,
        events: &[EventEnvelope],
    ) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        let hand_over = self.inboxes.iter().any(|i| i.takes_handovers());
        let due_at = if hand_over {
            now.saturating_add(self.lease_ms)
        } else {
            now
        };
        let stored = store
            .append_leased(events, &self.subscriptions, now, due_at)
            .await?;
        if stored.is_empty() {
            return Ok(stored);
        }
        if hand_over {
            let deliveries = self.fresh_deliveries(events, &stored)?;
            if let Err(e) = self.hand_over(store, &deliveries, now).await {
                // Stored all the same: what no worker took is delivered when its lease ends.
                tracing::warn!(error = %e, "deliveries not given back; due when their lease ends");
            }
        } else {
            self.wake_all();
        }
        Ok(stored)
    }

    /// Offers each subscriber's worker the new deliveries of the types it wants; gives back to the
    /// store, due at `now`, those it cannot take (every subscriber is served even if one give-back
    /// fails; the first failure is returned).
    async fn hand_over(
        &self,
        store: &dyn EventStore,
        deliveries: &[(&str, DueDelivery)],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut outcome = Ok(());
        for (subscription, inbox) in self.subscriptions.iter().zip(self.inboxes.iter()) {
            let refused: Vec<String> = deliveries
                .iter()
                .filter(|(event_type, _)| subscription.wants(event_type))
                .filter_map(|(_, d)| inbox.offer(d.clone()).err().map(|d| d.event_id))
                .collect();
            if refused.is_empty() {
                continue;
            }
            if let Err(e) = store.release(&subscription.name, &refused, now).await {
                if outcome.is_ok() {
                    outcome = Err(e);
                }
            }
            inbox.wake.notify_one();
        }
        outcome
    }

    fn of(&self, name: &str) -> Arc<Inbox> {
        self.subscriptions
            .iter()
            .zip(self.inboxes.iter())
            .find(|(s, _)| s.name == name)
            .map(|(_, i)| i.clone())
            .unwrap_or_default()
    }

    /// The first deliveries of the newly `stored` events that some subscriber wants, with their
    /// types, in the order given (a repeated id once).
    fn fresh_deliveries<'e>(
        &self,
        events: &'e [EventEnvelope],
        stored: &[String],
    ) -> Result<Vec<(&'e str, DueDelivery)>, StoreError> {
        let new: HashSet<&str> = stored.iter().map(String::as_str).collect();
        let mut seen = HashSet::new();
        let wanted = |t: &str| self.subscriptions.iter().any(|s| s.wants(t));
        events
            .iter()
            .filter(|e| {
                new.contains(e.id.as_str()) && wanted(&e.event_type) && seen.insert(e.id.as_str())
            })
            .map(|e| {
                let data = serde_json::to_string(&e.data)?;
                let delivery = DueDelivery {
                    event_id: e.id.clone(),
                    attempts: 0,
                    body: delivery_body(&e.id, &e.event_type, &data, &e.occurred_at, &e.source),
                };
                Ok((e.event_type.as_str(), delivery))
            })
            .collect()
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
        let mut store_failures = 0u32;
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
                        store_failures = 0;
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
            if let Err(e) = self.store.release(name, &ids, now_ms()).await {
                tracing::warn!(subscriber = name, error = %e, "claims not given back; they end with their lease");
            }
        }
    }

    /// Logs a store failure and returns how long to wait before using the store again.
    fn store_backoff(&self, failures: &mut u32, e: &StoreError) -> Duration {
        let wait = self.settings.backoff.delay(*failures);
        *failures = failures.saturating_add(1);
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
        let due = self
            .store
            .claim(name, now, now + self.settings.lease_ms(), limit)
            .await?;
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
        self.store.mark_delivered(name, event_ids, now_ms()).await?;
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
        let max = self.settings.max_attempts;
        match self
            .store
            .mark_failed(id, name, error, max, retry_at, now)
            .await?
        {
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
