//! One subscriber's inbox, and the inboxes of all: a publish hands the deliveries it stored to the
//! workers (leased to this process), and wakes them when due deliveries may be in the store.

use super::DeliverySettings;
use crate::clients::subscribers::delivery_body;
use crate::domain::{DueDelivery, Subscriber, Subscription};
use crate::store::{Deliveries, EventStore, NewEvents};
use shared::events::EventEnvelope;
use shared::store::{now_ms, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Notify;

/// One subscriber's inbox: deliveries handed over by the publish that stored them (already leased
/// to this process, so the worker makes no claim for them), and its two wake-up signals.
#[derive(Default)]
pub struct Inbox {
    /// Open while its worker runs; at most `capacity` deliveries wait.
    queue: std::sync::Mutex<(bool, std::collections::VecDeque<DueDelivery>)>,
    capacity: usize,
    /// Deliveries were handed over.
    pub(super) arrived: Notify,
    /// Due deliveries may be in the store (events stored unleased, replays, releases).
    pub(super) wake: Notify,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, std::collections::VecDeque<DueDelivery>)> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    pub(super) fn open(&self) {
        self.lock().0 = true;
    }

    /// Up to `n` waiting deliveries, oldest first.
    pub(super) fn take(&self, n: usize) -> Vec<DueDelivery> {
        let mut q = self.lock();
        let n = n.min(q.1.len());
        q.1.drain(..n).collect()
    }

    /// Closes the inbox; returns what still waited in it.
    pub(super) fn close(&self) -> Vec<DueDelivery> {
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
        let new = NewEvents {
            events,
            subscribers: &self.subscriptions,
            now,
            due_at,
        };
        let stored = store.append(new).await?;
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
            let given_back = Deliveries::to(&subscription.name, &refused);
            if let Err(e) = store.release(given_back, now).await {
                if outcome.is_ok() {
                    outcome = Err(e);
                }
            }
            inbox.wake.notify_one();
        }
        outcome
    }

    pub(super) fn of(&self, name: &str) -> Arc<Inbox> {
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
