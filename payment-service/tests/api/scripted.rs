//! A payment provider whose behaviour each test scripts: transient failures, declines, held
//! charges, failing refunds; real charges are counted by a zero-latency simulated provider.

use async_trait::async_trait;
use payment_service::clients::provider::{
    Charge, PaymentProvider, ProviderError, Refund, SimulatedProvider,
};
use payment_service::config::SimulationConfig;
use payment_service::domain::PaymentMethod;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A provider that fails its first `transient` charge attempts, or declines, or always fails,
/// then charges through a zero-latency simulated provider that counts real charges per key.
pub struct ScriptedProvider {
    pub inner: SimulatedProvider,
    pub transient_left: AtomicU32,
    pub always_transient: bool,
    pub decline: bool,
    /// Refunds fail transiently.
    pub refunds_fail: bool,
    pub attempts: AtomicU32,
    /// Each charge attempt waits for a permit here first (tests hold charges in flight with it).
    pub gate: Arc<tokio::sync::Semaphore>,
    /// Only charges of this amount (cents) wait at the gate; `None`: all do.
    pub hold_only: Option<i64>,
}

impl ScriptedProvider {
    /// A provider whose charges wait until `release` is called.
    pub fn held() -> Self {
        Self {
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            ..Self::new()
        }
    }

    /// Lets held charges proceed.
    pub fn release(&self) {
        self.gate.add_permits(1_000);
    }

    pub fn new() -> Self {
        Self {
            inner: SimulatedProvider::new(SimulationConfig {
                latency_min: Duration::ZERO,
                latency_max: Duration::ZERO,
                failure_rate: 0.0,
                decline_rate: 0.0,
                seed: Some(7),
            }),
            transient_left: AtomicU32::new(0),
            always_transient: false,
            decline: false,
            refunds_fail: false,
            attempts: AtomicU32::new(0),
            hold_only: None,
            gate: Arc::new(tokio::sync::Semaphore::new(
                tokio::sync::Semaphore::MAX_PERMITS,
            )),
        }
    }
}

#[async_trait]
impl PaymentProvider for ScriptedProvider {
    async fn charge(
        &self,
        key: &str,
        cents: i64,
        m: PaymentMethod,
    ) -> Result<Charge, ProviderError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let _permit = if self.hold_only.is_none_or(|c| c == cents) {
            Some(self.gate.acquire().await.unwrap())
        } else {
            None
        };
        if self.decline {
            return Err(ProviderError::Declined("Card declined".into()));
        }
        let fail_now = self
            .transient_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if self.always_transient || fail_now {
            return Err(ProviderError::Transient("gateway unavailable".into()));
        }
        self.inner.charge(key, cents, m).await
    }

    async fn refund(&self, key: &str, charge: &str, cents: i64) -> Result<Refund, ProviderError> {
        if self.refunds_fail {
            return Err(ProviderError::Transient("refunds unavailable".into()));
        }
        self.inner.refund(key, charge, cents).await
    }
}
