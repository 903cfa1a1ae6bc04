//! The background worker: it first finishes the refunds a previous run left half done, then
//! charges pending payments and refunds cancelled orders' payments, woken by new work or a poll.

use crate::domain::Payment;
use crate::processor::Processor;
use futures_util::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Payments taken per round.
const BATCH: u32 = 32;
/// How often to look for work without a wake-up.
pub const POLL: Duration = Duration::from_secs(1);

/// Runs until `cancel` fires, starting with the interrupted refunds `resume` (from
/// `PaymentStore::recover`). Work cut short by cancellation is resumed on the next start.
pub async fn run(processor: Arc<Processor>, resume: Vec<Payment>, cancel: CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = resume_refunds(&processor, resume) => {},
    }
    loop {
        let progressed = tokio::select! {
            _ = cancel.cancelled() => return,
            p = round(&processor) => p,
        };
        if progressed {
            continue;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = processor.worker_wake.notified() => {},
            _ = tokio::time::sleep(POLL) => {},
        }
    }
}

/// Finishes refunds a previous run left in `refunding` (the provider key makes this safe).
async fn resume_refunds(processor: &Processor, refunding: Vec<Payment>) {
    for p in refunding {
        if let Err(e) = processor.refund_claimed(p).await {
            tracing::warn!(error = %e, "resuming a refund failed; it is retried when due");
        }
    }
}

/// One batch of due work, run concurrently; `true` when anything changed.
async fn round(processor: &Processor) -> bool {
    match processor.store.due_work(BATCH).await {
        Ok(work) => join_all(work.into_iter().map(|p| processor.handle(p)))
            .await
            .into_iter()
            .any(|changed| changed),
        Err(e) => {
            tracing::warn!(error = %e, "listing due payments failed");
            false
        }
    }
}
