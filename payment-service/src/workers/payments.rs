//! The background worker: it first finishes the refunds a previous run left half done, then
//! charges pending payments and refunds cancelled orders' payments, woken by new work or a poll.
//! Up to `PAYMENT_CONCURRENCY` payments are worked on at once, so slow provider calls never hold up
//! others: the order flow is bounded by the provider's latency, not by this loop.

use crate::app::Processor;
use crate::domain::Payment;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

/// How often to look for work without a wake-up.
pub const POLL: Duration = Duration::from_secs(1);

/// Runs until `cancel` fires, at most `concurrency` payments at once, starting with the interrupted
/// refunds `resume` (from `PaymentStore::recover`). Work cut short by cancellation is resumed on
/// the next start.
pub async fn run(
    processor: Arc<Processor>,
    concurrency: usize,
    resume: Vec<Payment>,
    cancel: CancellationToken,
) {
    let mut jobs: JoinSet<bool> = JoinSet::new();
    // Payment id by task id, so that even a panicked job frees its payment for a later try.
    let mut in_flight = InFlight::default();
    for p in resume {
        start(&mut jobs, &mut in_flight, &processor, p, true);
    }
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
                        start(&mut jobs, &mut in_flight, &processor, p, false);
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

/// Starts work on `p` unless it is already being worked on. `resumed`: a refund left
/// `refunding` by a previous run.
fn start(
    jobs: &mut JoinSet<bool>,
    in_flight: &mut InFlight,
    processor: &Arc<Processor>,
    p: Payment,
    resumed: bool,
) {
    if in_flight.contains(&p.id) {
        return;
    }
    let processor = processor.clone();
    let payment_id = p.id.clone();
    let handle = jobs.spawn(async move {
        let id = p.id.clone();
        let progressed = if resumed {
            match processor.refund_claimed(p).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(payment_id = %id, error = %e, "resuming a refund failed; retried when due");
                    false
                }
            }
        } else {
            processor.handle(p).await
        };
        progressed
    });
    in_flight.started(handle.id(), payment_id);
}
