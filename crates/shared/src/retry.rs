//! Retrying idempotent operations: exponential backoff with full jitter, a per-attempt timeout and
//! an overall deadline; errors the caller marks permanent are not retried.

use rand::Rng;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Backoff schedule.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay cap before the first retry.
    pub initial: Duration,
    /// Largest delay cap.
    pub max: Duration,
    /// Growth factor per attempt.
    pub factor: f64,
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based): uniform in `[0, min(max, initial·factorⁿ)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self.cap(attempt);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 {
            0
        } else {
            rand::rng().random_range(ms / 2..=ms)
        })
    }

    /// The upper bound of `delay(attempt)`.
    pub fn cap(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.min(30) as i32);
        let ms = (self.initial.as_millis() as f64 * exp).min(self.max.as_millis() as f64);
        Duration::from_millis(ms as u64)
    }
}

/// A loop's consecutive failures: each one is answered by a wait from the [`Backoff`] schedule,
/// longer after each failure in a row, until a success starts the schedule over.
#[derive(Debug, Clone, Copy)]
pub struct Failures {
    backoff: Backoff,
    in_a_row: u32,
}

impl Failures {
    /// No failure yet, waits from `backoff`.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            in_a_row: 0,
        }
    }

    /// Counts one more failure and returns how long to wait before trying again.
    pub fn failed(&mut self) -> Duration {
        let wait = self.backoff.delay(self.in_a_row);
        self.in_a_row = self.in_a_row.saturating_add(1);
        wait
    }

    /// A success: the next failure waits the shortest again.
    pub fn succeeded(&mut self) {
        self.in_a_row = 0;
    }
}

/// A retry policy: schedule, per-attempt timeout and overall budget.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delays between attempts.
    pub backoff: Backoff,
    /// Longest one attempt may take.
    pub attempt_timeout: Duration,
    /// Total time budget, attempts and waits included.
    pub budget: Duration,
    /// Most attempts in all.
    pub max_attempts: u32,
}

/// How a retried operation ended without success.
#[derive(Debug)]
pub enum RetryError<E> {
    /// A permanent error (not retried).
    Permanent(E),
    /// The last transient error when attempts or budget ran out.
    Exhausted(E, u32),
    /// The last attempt timed out and nothing else was left.
    TimedOut(u32),
}

/// Runs `op` until it succeeds, fails permanently (`is_transient` false) or the policy runs out.
pub async fn retry<T, E, F, Fut>(
    policy: RetryPolicy,
    mut op: F,
    is_transient: impl Fn(&E) -> bool,
) -> Result<T, RetryError<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + policy.budget;
    let mut attempt = 0u32;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let limit = policy.attempt_timeout.min(remaining);
        let outcome = tokio::time::timeout(limit, op(attempt)).await;
        attempt += 1;
        let last_err = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) if !is_transient(&e) => return Err(RetryError::Permanent(e)),
            Ok(Err(e)) => Some(e),
            Err(_) => None,
        };
        let wait = policy.backoff.delay(attempt - 1);
        let out_of_time = Instant::now() + wait >= deadline;
        if attempt >= policy.max_attempts || out_of_time {
            return Err(match last_err {
                Some(e) => RetryError::Exhausted(e, attempt),
                None => RetryError::TimedOut(attempt),
            });
        }
        tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn failures_wait_longer_in_a_row_and_start_over_after_a_success() {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(300),
            factor: 2.0,
        };
        let mut failures = Failures::new(backoff);
        let waits: Vec<u128> = (0..4).map(|_| failures.failed().as_millis()).collect();
        for (wait, cap) in waits.iter().zip([100, 200, 300, 300]) {
            assert!((cap / 2..=cap).contains(wait), "{waits:?}");
        }
        failures.succeeded();
        assert!(failures.failed() <= Duration::from_millis(100));
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            backoff: Backoff {
                initial: Duration::from_millis(100),
                max: Duration::from_secs(2),
                factor: 2.0,
            },
            attempt_timeout: Duration::from_secs(1),
            budget: Duration::from_secs(10),
            max_attempts: 5,
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = policy().backoff;
        assert_eq!(b.cap(0), Duration::from_millis(100));
        assert_eq!(b.cap(3), Duration::from_millis(800));
        assert_eq!(b.cap(10), Duration::from_secs(2));
        for _ in 0..50 {
            let d = b.delay(2);
            assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_until_success() {
        let calls = AtomicU32::new(0);
        let r: Result<u32, RetryError<&str>> = retry(
            policy(),
            |_| async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err("transient")
                } else {
                    Ok(n)
                }
            },
            |_| true,
        )
        .await;
        assert_eq!(r.unwrap(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_stop_at_once_and_budget_bounds_attempts() {
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = retry(
            policy(),
            |_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("declined")
            },
            |_| false,
        )
        .await;
        assert!(matches!(r, Err(RetryError::Permanent("declined"))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let started = Instant::now();
        let r: Result<(), _> = retry(policy(), |_| async { Err("down") }, |_| true).await;
        assert!(matches!(r, Err(RetryError::Exhausted("down", 5))));
        assert!(started.elapsed() <= Duration::from_secs(10));
    }
}
