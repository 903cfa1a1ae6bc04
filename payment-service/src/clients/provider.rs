//! The payment provider seam: a trait the service charges and refunds through, and the default
//! simulated provider (configurable latency, transient failures and declines; seedable; idempotent).

use crate::config::SimulationConfig;
use crate::domain::PaymentMethod;
use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// A successful charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The provider's transaction id (`txn_…`).
    pub transaction_id: String,
    /// Charged amount in cents.
    pub amount_cents: i64,
}

/// A successful refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The provider's refund id (`ref_…`).
    pub refund_id: String,
    /// Refunded amount in cents.
    pub amount_cents: i64,
}

/// Why the provider refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Permanent: the card was declined; retrying will not help.
    #[error("{0}")]
    Declined(String),
    /// Temporary: the provider failed or was unreachable; retrying may help.
    #[error("{0}")]
    Transient(String),
}

impl ProviderError {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// A payment provider. Both calls are idempotent per key: repeating a key returns the first
/// result and never charges or refunds twice.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Charges `amount_cents` once per `idempotency_key`.
    async fn charge(
        &self,
        idempotency_key: &str,
        amount_cents: i64,
        method: PaymentMethod,
    ) -> Result<Charge, ProviderError>;

    /// Refunds `amount_cents` of `charge_id` once per `idempotency_key`.
    async fn refund(
        &self,
        idempotency_key: &str,
        charge_id: &str,
        amount_cents: i64,
    ) -> Result<Refund, ProviderError>;
}

#[derive(Default)]
struct Ledger {
    /// Final answer per charge key (success or decline); transient failures are not final.
    charges: HashMap<String, Result<Charge, ProviderError>>,
    /// Real charges made per key.
    charge_counts: HashMap<String, u32>,
    /// Refund per key.
    refunds: HashMap<String, Refund>,
    /// Real refunds made per charge id.
    refund_counts: HashMap<String, u32>,
}

/// The default provider: simulates latency, transient failures and declines.
pub struct SimulatedProvider {
    config: SimulationConfig,
    rng: Mutex<StdRng>,
    ledger: Mutex<Ledger>,
}

impl SimulatedProvider {
    /// A provider behaving as `config` says (seeded when `config.seed` is set).
    pub fn new(config: SimulationConfig) -> Self {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            config,
            rng: Mutex::new(rng),
            ledger: Mutex::new(Ledger::default()),
        }
    }

    /// How many real charges were made under `idempotency_key` (0 or 1).
    pub fn charges_for(&self, idempotency_key: &str) -> u32 {
        self.ledger()
            .charge_counts
            .get(idempotency_key)
            .copied()
            .unwrap_or(0)
    }

    /// How many real charges were made in all.
    pub fn total_charges(&self) -> u32 {
        self.ledger().charge_counts.values().sum()
    }

    /// How many real refunds were made of `charge_id`.
    pub fn refunds_for(&self, charge_id: &str) -> u32 {
        self.ledger()
            .refund_counts
            .get(charge_id)
            .copied()
            .unwrap_or(0)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // A panic while holding the lock cannot leave the maps half-updated: recover them.
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn roll(&self) -> (Duration, f64, f64, String) {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (min, max) = (
            self.config.latency_min.as_millis() as u64,
            self.config.latency_max.as_millis() as u64,
        );
        let latency = Duration::from_millis(rng.random_range(min..=max));
        let suffix: String = (0..9)
            .map(|_| char::from_digit(rng.random_range(0..36), 36).unwrap_or('0'))
            .collect();
        (latency, rng.random(), rng.random(), suffix)
    }
}

#[async_trait]
impl PaymentProvider for SimulatedProvider {
    async fn charge(
        &self,
        idempotency_key: &str,
        amount_cents: i64,
        _method: PaymentMethod,
    ) -> Result<Charge, ProviderError> {
        if let Some(done) = self.ledger().charges.get(idempotency_key) {
            return done.clone();
        }
        let (latency, decline_roll, failure_roll, suffix) = self.roll();
        tokio::time::sleep(latency).await;
        let mut ledger = self.ledger();
        // A concurrent call with the same key may have finished while this one slept.
        if let Some(done) = ledger.charges.get(idempotency_key) {
            return done.clone();
        }
        let outcome = if decline_roll < self.config.decline_rate {
            Err(ProviderError::Declined(
                "Card declined: insufficient funds".to_string(),
            ))
        } else if failure_roll < self.config.failure_rate {
            return Err(ProviderError::Transient(
                "Payment gateway error: temporarily unavailable".to_string(),
            ));
        } else {
            *ledger
                .charge_counts
                .entry(idempotency_key.to_string())
                .or_default() += 1;
            Ok(Charge {
                transaction_id: format!("txn_{}_{suffix}", shared::store::now_ms()),
                amount_cents,
            })
        };
        ledger
            .charges
            .insert(idempotency_key.to_string(), outcome.clone());
        outcome
    }

    async fn refund(
        &self,
        idempotency_key: &str,
        charge_id: &str,
        amount_cents: i64,
    ) -> Result<Refund, ProviderError> {
        if let Some(done) = self.ledger().refunds.get(idempotency_key) {
            return Ok(done.clone());
        }
        let (latency, _, _, suffix) = self.roll();
        tokio::time::sleep(latency).await;
        let mut ledger = self.ledger();
        if let Some(done) = ledger.refunds.get(idempotency_key) {
            return Ok(done.clone());
        }
        *ledger
            .refund_counts
            .entry(charge_id.to_string())
            .or_default() += 1;
        let refund = Refund {
            refund_id: format!("ref_{}_{suffix}", shared::store::now_ms()),
            amount_cents,
        };
        ledger
            .refunds
            .insert(idempotency_key.to_string(), refund.clone());
        Ok(refund)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sim(failure_rate: f64, decline_rate: f64, seed: u64) -> SimulatedProvider {
        SimulatedProvider::new(SimulationConfig {
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
            failure_rate,
            decline_rate,
            seed: Some(seed),
        })
    }

    #[tokio::test]
    async fn a_repeated_key_returns_the_first_charge_without_charging_again() {
        let p = sim(0.0, 0.0, 1);
        let a = p
            .charge("k1", 500, PaymentMethod::CreditCard)
            .await
            .unwrap();
        let b = p
            .charge("k1", 500, PaymentMethod::CreditCard)
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(p.charges_for("k1"), 1);
        assert!(a.transaction_id.starts_with("txn_"));
    }

    #[tokio::test]
    async fn declines_are_permanent_and_transient_failures_are_not_remembered() {
        let p = sim(0.0, 1.0, 2);
        let e = p.charge("k", 1, PaymentMethod::Cash).await.unwrap_err();
        assert!(!e.is_transient());
        assert_eq!(p.charge("k", 1, PaymentMethod::Cash).await.unwrap_err(), e);
        let p = sim(1.0, 0.0, 3);
        assert!(p
            .charge("k", 1, PaymentMethod::Cash)
            .await
            .unwrap_err()
            .is_transient());
        assert_eq!(p.total_charges(), 0);
    }

    #[tokio::test]
    async fn the_same_seed_gives_the_same_sequence_of_outcomes() {
        let run = |seed| async move {
            let p = sim(0.5, 0.0, seed);
            let mut out = Vec::new();
            for i in 0..20 {
                out.push(
                    p.charge(&format!("k{i}"), 1, PaymentMethod::Cash)
                        .await
                        .is_ok(),
                );
            }
            out
        };
        let a = run(42).await;
        assert_eq!(a, run(42).await);
        assert!(a.contains(&true) && a.contains(&false));
    }

    #[tokio::test]
    async fn refunds_are_idempotent_per_key() {
        let p = sim(0.0, 0.0, 4);
        let a = p.refund("r1", "txn_1", 100).await.unwrap();
        assert_eq!(p.refund("r1", "txn_1", 100).await.unwrap(), a);
        assert_eq!(p.refunds_for("txn_1"), 1);
    }
}
