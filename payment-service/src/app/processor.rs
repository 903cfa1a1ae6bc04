//! Charging and refunding: one code path used by the background worker and by requests. Each
//! payment is claimed with a conditional update, charged with retries under one provider key, and
//! its outcome stored together with the event that announces it.

use crate::domain::{Payment, PaymentStatus};
use crate::error::Error;
use shared::metrics::Metrics;

const PAYMENTS: &str = "payments_total";
const PAYMENTS_HELP: &str = "Payments that reached an outcome.";
const PROVIDER_CALLS: &str = "payment_provider_calls_total";
const PROVIDER_CALLS_HELP: &str = "Provider charge and refund calls by result.";
use crate::clients::provider::{PaymentProvider, ProviderError};
use crate::store::{Outcome, PaymentStore};
use serde_json::json;
use shared::events::{types, EventEnvelope};
use shared::money::cents_to_json;
use shared::retry::{retry, Backoff, RetryError, RetryPolicy};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Charges and refunds payments; shared by the worker and the request handlers.
pub struct Processor {
    /// Payments.
    pub store: Arc<dyn PaymentStore>,
    /// The provider.
    pub provider: Arc<dyn PaymentProvider>,
    /// Retry budget, attempt timeout and backoff for provider calls.
    pub policy: RetryPolicy,
    /// Wakes the outbox relay after an event is written.
    pub relay_wake: Arc<Notify>,
    /// Wakes the worker when new work is stored.
    pub worker_wake: Arc<Notify>,
    /// Told whenever a refund ends (refunded, or back to `completed`), for a request waiting on
    /// a refund the worker is doing.
    pub refund_settled: Arc<Notify>,
    /// Outcome and provider-call counters.
    pub metrics: Metrics,
    /// A `processing`/`refunding` payment untouched this long has lost its worker (a database
    /// error after the provider answered, a crash): the worker takes it over. Longer than any
    /// live charge or refund can take.
    pub stale_after: Duration,
}

/// The retry policy of provider calls: the given budget and attempt timeout, backoff 200 ms
/// doubling up to 2 s (with jitter); the budget, not a count, bounds the attempts.
pub fn provider_policy(budget: Duration, attempt_timeout: Duration) -> RetryPolicy {
    RetryPolicy {
        backoff: Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(2),
            factor: 2.0,
        },
        attempt_timeout,
        budget,
        max_attempts: u32::MAX,
    }
}

impl Processor {
    /// Calls the provider, again after transient failures within the retry policy, counting
    /// every call by its result.
    async fn call_provider<T, F, Fut>(&self, call: F) -> Result<T, RetryError<ProviderError>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ProviderError>>,
    {
        let counted = |_| async {
            let r = call().await;
            let result = [("result", call_result(&r))];
            self.metrics
                .incr(PROVIDER_CALLS, PROVIDER_CALLS_HELP, &result);
            r
        };
        retry(self.policy, counted, ProviderError::is_transient).await
    }

    /// Charges a payment already claimed (`processing`) and stores the outcome with its event.
    /// A completed payment whose order was cancelled meanwhile is refunded at once.
    pub async fn charge_claimed(&self, p: Payment) -> Result<Payment, Error> {
        let key = p.charge_key();
        let answer = self
            .call_provider(|| self.provider.charge(&key, p.amount_cents, p.method))
            .await
            .map_err(failure_reason);
        let (outcome, event) = match &answer {
            Ok(charge) => {
                let event = EventEnvelope::new(
                    types::PAYMENT_PROCESSED,
                    json!({
                        "orderId": p.order_id,
                        "paymentId": p.id,
                        "transactionId": charge.transaction_id,
                        "amount": cents_to_json(p.amount_cents),
                    }),
                    crate::SERVICE,
                );
                let transaction_id = &charge.transaction_id;
                (Outcome::Charged { transaction_id }, event)
            }
            Err(reason) => {
                tracing::info!(payment_id = %p.id, %reason, "payment failed");
                let event = EventEnvelope::new(
                    types::PAYMENT_FAILED,
                    json!({"orderId": p.order_id, "paymentId": p.id, "reason": reason}),
                    crate::SERVICE,
                );
                (Outcome::Failed { reason }, event)
            }
        };
        let stored = self.store.settle(&p.id, outcome, &event).await?;
        self.relay_wake.notify_one();
        if let Some(done) = &stored {
            self.metrics.incr(
                PAYMENTS,
                PAYMENTS_HELP,
                &[("outcome", done.status.as_str())],
            );
        }
        let Some(done) = stored else {
            // Someone else moved it on (only possible after a restart raced us): report as is.
            return self.current(&p.id).await;
        };
        if done.status == PaymentStatus::Completed && done.refund_requested {
            return self.refund(&done.id).await.or(Ok(done));
        }
        Ok(done)
    }

    /// Refunds a `completed` payment once; a payment in any other state is returned unchanged.
    pub async fn refund(&self, id: &str) -> Result<Payment, Error> {
        match self.store.begin_refund(id).await? {
            Some(p) => self.refund_claimed(p).await,
            None => self.current(id).await,
        }
    }

    /// Refunds a payment already claimed (`refunding`) and stores the outcome with its event;
    /// when the provider refuses, the payment goes back to `completed`.
    pub async fn refund_claimed(&self, p: Payment) -> Result<Payment, Error> {
        let key = p.refund_key();
        let charge_id = p.transaction_id.clone().unwrap_or_default();
        let answer = self
            .call_provider(|| self.provider.refund(&key, &charge_id, p.amount_cents))
            .await;
        match answer {
            Ok(refund) => {
                let event = EventEnvelope::new(
                    types::PAYMENT_REFUNDED,
                    json!({
                        "orderId": p.order_id,
                        "paymentId": p.id,
                        "refundAmount": cents_to_json(refund.amount_cents),
                    }),
                    crate::SERVICE,
                );
                let refunded = Outcome::Refunded {
                    refund_cents: refund.amount_cents,
                };
                let done = self.store.settle(&p.id, refunded, &event).await?;
                self.relay_wake.notify_one();
                self.refund_settled.notify_waiters();
                if done.is_some() {
                    self.metrics
                        .incr(PAYMENTS, PAYMENTS_HELP, &[("outcome", "refunded")]);
                }
                match done {
                    Some(done) => Ok(done),
                    None => self.current(&p.id).await,
                }
            }
            Err(e) => {
                self.store.abort_refund(&p.id).await?;
                self.refund_settled.notify_waiters();
                Err(Error::RefundFailed(failure_reason(e)))
            }
        }
    }

    /// Claims the work due on `p`, one conditional update: a `pending` charge, the refund of a
    /// `completed` payment, or `processing`/`refunding` work gone stale (its worker is gone),
    /// taken over under its original provider key so nothing is charged or refunded twice.
    /// `None` when another worker (this replica's or another's) has it, or it moved on.
    pub async fn claim(&self, p: &Payment) -> Result<Option<Payment>, Error> {
        let claimed = match p.status {
            PaymentStatus::Pending => self.store.claim_pending(&p.id).await?,
            PaymentStatus::Completed => self.store.begin_refund(&p.id).await?,
            PaymentStatus::Processing | PaymentStatus::Refunding => {
                let taken = self.store.claim_stale(&p.id, self.stale_before()).await?;
                if let Some(p) = &taken {
                    tracing::warn!(payment_id = %p.id, status = p.status.as_str(), "taking over stale payment work");
                }
                taken
            }
            _ => None,
        };
        Ok(claimed)
    }

    /// Does the work [`claim`](Self::claim) gave: `true` when the payment reached an outcome.
    pub async fn work(&self, claimed: Payment) -> Result<bool, Error> {
        let done = match claimed.status {
            PaymentStatus::Processing => self.charge_claimed(claimed).await?,
            _ => self.refund_claimed(claimed).await?,
        };
        Ok(!matches!(
            done.status,
            PaymentStatus::Processing | PaymentStatus::Refunding
        ))
    }

    /// The `updatedAt` before which in-flight work counts as abandoned.
    pub fn stale_before(&self) -> i64 {
        shared::store::now_ms() - self.stale_after.as_millis() as i64
    }

    /// The payment `id` once no refund of it is under way (`None` when `deadline` comes first):
    /// for a request whose refund the worker took over (the cancellation it caused asked for the
    /// same refund through `OrderCancelled`).
    pub async fn once_refund_settled(
        &self,
        id: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Payment>, Error> {
        loop {
            // Registered before the read, so a refund ending in between still wakes us.
            let settled = self.refund_settled.notified();
            let p = self.current(id).await?;
            if p.status != PaymentStatus::Refunding {
                return Ok(Some(p));
            }
            if tokio::time::timeout_at(deadline, settled).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn current(&self, id: &str) -> Result<Payment, Error> {
        self.store
            .get(id)
            .await?
            .ok_or(Error::Store(shared::store::StoreError::NotFound))
    }
}

fn call_result<T>(r: &Result<T, ProviderError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(ProviderError::Declined(_)) => "declined",
        Err(ProviderError::Transient(_)) => "transient",
    }
}

fn failure_reason(e: RetryError<ProviderError>) -> String {
    match e {
        RetryError::Permanent(e) => e.to_string(),
        RetryError::Exhausted(e, n) => format!("{e} (gave up after {n} attempts)"),
        RetryError::TimedOut(n) => {
            format!("Payment provider did not answer in time (gave up after {n} attempts)")
        }
    }
}
