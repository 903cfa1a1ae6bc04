//! The release worker: gives stock back to the product service for every queued release (cancelled
//! or failed orders, unstored orders), retrying with backoff while the product service is down.
//! Replicas share the queue: each claims a batch for [`LEASE`] before working on it, so two do
//! not release the same order in the normal case; the product service releases an order's stock
//! once however often it is asked, so a claim that lapsed (a crashed replica) costs nothing.

use crate::clients::ProductsClient;
use crate::store::OrderStore;
use shared::retry::{Backoff, Failures};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Releases claimed at once. Each is one call to the product service, made one after another.
const BATCH: u32 = 10;
/// How long a claim on a batch lasts: longer than the batch's calls may take (each is bounded by
/// `PRODUCT_TIMEOUT_MS`); a failed release is due again after its backoff instead.
const LEASE: Duration = Duration::from_secs(60);

/// Background loop that drains the release queue.
pub struct ReleaseWorker {
    /// Where releases are queued.
    pub store: Arc<dyn OrderStore>,
    /// The product service.
    pub products: ProductsClient,
    /// Woken when a release is queued.
    pub wake: Arc<Notify>,
    /// Delay after failed attempts.
    pub backoff: Backoff,
    /// How often to look for due releases without a wake-up.
    pub poll: Duration,
}

impl ReleaseWorker {
    /// Runs until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let mut failures = Failures::new(self.backoff);
        loop {
            let due = match self.store.claim_releases(BATCH, LEASE).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the release queue");
                    Vec::new()
                }
            };
            let mut released_any = false;
            for order_id in due {
                if cancel.is_cancelled() {
                    return;
                }
                match self.products.release(&order_id).await {
                    Ok(()) => {
                        failures.succeeded();
                        released_any = true;
                        if let Err(e) = self.store.release_done(&order_id).await {
                            tracing::warn!(error = %e, order_id, "cannot mark release done");
                        }
                    }
                    Err(e) => {
                        let wait = failures.failed();
                        tracing::warn!(error = %e, order_id, retry_in_ms = wait.as_millis() as u64, "stock release failed");
                        let _ = self.store.release_failed(&order_id, wait).await;
                    }
                }
            }
            if released_any {
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.wake.notified() => {},
                _ = tokio::time::sleep(self.poll) => {},
            }
        }
    }
}
