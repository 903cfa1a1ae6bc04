//! The background worker: charges pending payments, refunds cancelled orders' payments and takes
//! over work gone stale, woken by new work or a poll. Up to `PAYMENT_CONCURRENCY` payments are
//! worked on at once, so slow provider calls never hold up others: the order flow is bounded by
//! the provider's latency, not by this loop.
//!
//! Replicas share the work through the payments themselves: each job first claims its payment
//! with a conditional update (`pending → processing`, `completed → refunding`, or a stale claim
//! renewed), so one worker of all replicas works on a payment at a time. A stopping worker gives
//! back the claims its cut-short jobs hold (`PaymentStore::give_back`), for any replica to take up
//! at once; the claims of a crashed one are taken over once stale.

use crate::app::Processor;
use crate::domain::Payment;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

/// How often to look for work without a wake-up.
pub const POLL: Duration = Duration::from_secs(1);

/// The payments whose claim a job of this worker holds.
type Held = Arc<Mutex<HashSet<String>>>;

/// Runs until `cancel` fires, at most `concurrency` payments at once. The claims of the jobs that
/// cancellation cuts short are given back before it returns.
pub async fn run(processor: Arc<Processor>, concurrency: usize, cancel: CancellationToken) {
    let mut jobs: JoinSet<bool> = JoinSet::new();
    // Payment id by task id, so that even a panicked job frees its payment for a later try.
    let mut in_flight = InFlight::default();
    let held = Held::default();
    // Look for work at start, on a wake-up or poll, and after a job that changed something; not
    // after a job that failed, so that a failing database or provider is not hammered.
    let mut look = true;
    loop {
        let room = concurrency.saturating_sub(jobs.len());
        if look && room > 0 {
            match processor
                .store
                .due_work(room as u32, processor.stale_before())
                .await
            {
                Ok(work) => {
                    for p in work {
                        start(&mut jobs, &mut in_flight, &processor, &held, p);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing due payments failed"),
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(done) = jobs.join_next_with_id(), if !jobs.is_empty() => {
                look = match done {
                    Ok((task, progressed)) => {
                        in_flight.finished(task);
                        progressed
                    }
                    Err(e) => {
                        in_flight.finished(e.id());
                        false
                    }
                };
            }
            _ = processor.worker_wake.notified() => look = true,
            _ = tokio::time::sleep(POLL) => look = true,
        }
    }
    jobs.abort_all();
    while jobs.join_next().await.is_some() {}
    let cut_short: Vec<String> = lock(&held).drain().collect();
    if !cut_short.is_empty() {
        if let Err(e) = processor.store.give_back(&cut_short).await {
            tracing::warn!(error = %e, payments = cut_short.len(), "claims not given back; taken over once stale");
        }
    }
}

fn lock(held: &Held) -> std::sync::MutexGuard<'_, HashSet<String>> {
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The payments being worked on, by task, and the set of their ids.
#[derive(Default)]
struct InFlight {
    by_task: HashMap<Id, String>,
    ids: HashSet<String>,
}

impl InFlight {
    fn contains(&self, payment_id: &str) -> bool {
        self.ids.contains(payment_id)
    }

    fn started(&mut self, task: Id, payment_id: String) {
        self.ids.insert(payment_id.clone());
        self.by_task.insert(task, payment_id);
    }

    fn finished(&mut self, task: Id) {
        if let Some(id) = self.by_task.remove(&task) {
            self.ids.remove(&id);
        }
    }
}

/// Starts work on `p` unless it is already being worked on: claim it, then (holding the claim in
/// `held` meanwhile) do it. `true` when the payment reached an outcome.
fn start(
    jobs: &mut JoinSet<bool>,
    in_flight: &mut InFlight,
    processor: &Arc<Processor>,
    held: &Held,
    p: Payment,
) {
    if in_flight.contains(&p.id) {
        return;
    }
    let (processor, held) = (processor.clone(), held.clone());
    let payment_id = p.id.clone();
    let handle = jobs.spawn(async move {
        let claimed = match processor.claim(&p).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(payment_id = %p.id, error = %e, "claiming payment work failed; will retry");
                return false;
            }
        };
        // No await since the claim: a job cut short from here on is in `held`.
        lock(&held).insert(p.id.clone());
        let outcome = processor.work(claimed).await;
        lock(&held).remove(&p.id);
        outcome.unwrap_or_else(|e| {
            tracing::warn!(payment_id = %p.id, error = %e, "payment work failed; will retry");
            false
        })
    });
    in_flight.started(handle.id(), payment_id);
}
