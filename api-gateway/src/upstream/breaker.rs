//! A circuit breaker per upstream: after `BREAKER_FAILURES` consecutive failures (a refused or
//! timed-out connection, or no answer within the upstream timeout) the route answers 503 with
//! `Retry-After` at once for `BREAKER_OPEN_MS`, then lets one request through as a probe and closes
//! again when it is answered. Closed, admitting a request costs one atomic load.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When and for how long a breaker opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open it (0: never opens).
    pub failures: u32,
    /// How long it stays open before a probe is let through.
    pub open_for: Duration,
}

/// What a breaker's state reads as in `/health` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go through.
    Closed,
    /// Requests are refused until the open time has passed.
    Open,
    /// The open time has passed: the next request (or the one in flight) is the probe.
    HalfOpen,
}

impl BreakerState {
    /// The name shown in `/health`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }

    /// The value of the `gateway_upstream_breaker_state` gauge (0 closed, 1 open, 2 half-open).
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

/// One upstream's breaker. Shared by every connection.
#[derive(Debug)]
pub struct Breaker {
    /// The upstream's name, for logs.
    name: &'static str,
    settings: BreakerSettings,
    /// Times below are milliseconds since this instant.
    epoch: Instant,
    /// Failures in a row since the last answer.
    consecutive: AtomicU32,
    /// 0 while closed; else the millisecond (+1) from which a probe may go.
    open_until: AtomicU64,
    /// A probe is in flight.
    probing: AtomicBool,
}

/// Leave to send one request, to be settled with its outcome. A probe that is dropped unsettled
/// (its client went away) frees the probe's place for the next request.
#[derive(Debug)]
pub struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

impl Breaker {
    /// A closed breaker for the upstream `name`.
    pub fn new(name: &'static str, settings: BreakerSettings) -> Arc<Self> {
        Arc::new(Self {
            name,
            settings,
            epoch: Instant::now(),
            consecutive: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        })
    }

    /// The upstream's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Leave to send a request, or how long until a request may be sent again.
    pub fn admit(&self) -> Result<Ticket<'_>, Duration> {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return Ok(self.ticket(false));
        }
        let now = self.now_ms() + 1;
        if now < until {
            return Err(Duration::from_millis(until - now));
        }
        if self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Ok(self.ticket(true));
        }
        // Another request is the probe; its answer decides.
        Err(Duration::from_secs(1))
    }

    fn ticket(&self, probe: bool) -> Ticket<'_> {
        Ticket {
            breaker: self,
            probe,
        }
    }

    /// How long a client should wait before trying again (at least a second while closed).
    pub fn retry_after(&self) -> Duration {
        let until = self.open_until.load(Ordering::Acquire);
        let now = self.now_ms() + 1;
        if until > now {
            Duration::from_millis(until - now)
        } else {
            Duration::from_secs(1)
        }
    }

    /// The state now.
    pub fn state(&self) -> BreakerState {
        match self.open_until.load(Ordering::Acquire) {
            0 => BreakerState::Closed,
            until if self.now_ms() + 1 < until => BreakerState::Open,
            _ => BreakerState::HalfOpen,
        }
    }

    fn answered(&self) {
        if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Relaxed);
        }
        if self.open_until.load(Ordering::Relaxed) != 0 {
            self.open_until.store(0, Ordering::Release);
            tracing::info!(upstream = self.name, "upstream answered: circuit closed");
        }
    }

    /// Records a failure; `true` when it opened the breaker.
    fn failed(&self, probe: bool) -> bool {
        let n = self
            .consecutive
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let threshold = self.settings.failures;
        let open = probe || (threshold > 0 && n >= threshold);
        if open {
            let until = self.now_ms() + 1 + self.settings.open_for.as_millis() as u64;
            if self.open_until.swap(until, Ordering::AcqRel) == 0 {
                tracing::warn!(
                    upstream = self.name,
                    failures = n,
                    open_ms = self.settings.open_for.as_millis() as u64,
                    "circuit opened: answering 503 at once"
                );
            }
        }
        open
    }
}

impl Ticket<'_> {
    /// The upstream answered (whatever its status): the breaker closes and the count restarts.
    pub fn answered(mut self) {
        self.breaker.answered();
        self.settle();
    }

    /// The upstream could not be reached or did not answer in time; `true` when this opened the
    /// breaker.
    pub fn failed(mut self) -> bool {
        let opened = self.breaker.failed(self.probe);
        self.settle();
        opened
    }

    fn settle(&mut self) {
        if std::mem::take(&mut self.probe) {
            self.breaker.probing.store(false, Ordering::Release);
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn breaker(failures: u32, open_ms: u64) -> Arc<Breaker> {
        Breaker::new(
            "test",
            BreakerSettings {
                failures,
                open_for: Duration::from_millis(open_ms),
            },
        )
    }

    #[test]
    fn opens_after_the_set_failures_in_a_row_and_an_answer_restarts_the_count() {
        let b = breaker(3, 60_000);
        assert!(!b.admit().unwrap().failed());
        assert!(!b.admit().unwrap().failed());
        b.admit().unwrap().answered();
        assert!(!b.admit().unwrap().failed());
        assert!(!b.admit().unwrap().failed());
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(
            b.admit().unwrap().failed(),
            "the third failure in a row opens it"
        );
        assert_eq!(b.state(), BreakerState::Open);
        let wait = b.admit().unwrap_err();
        assert!(
            wait > Duration::from_secs(59) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        let left = b.retry_after();
        assert!(left > Duration::from_secs(59), "{left:?}");
    }

    #[test]
    fn after_the_open_time_one_probe_goes_and_its_answer_closes_the_breaker() {
        let b = breaker(1, 0);
        assert!(b.admit().unwrap().failed());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let probe = b.admit().expect("the probe");
        assert_eq!(
            b.admit().unwrap_err(),
            Duration::from_secs(1),
            "one probe at a time"
        );
        probe.answered();
        assert_eq!(b.state(), BreakerState::Closed);
        b.admit().unwrap().answered();
    }

    #[test]
    fn a_failed_probe_opens_the_breaker_again() {
        let b = breaker(2, 60_000);
        b.admit().unwrap().failed();
        b.admit().unwrap().failed();
        // Pretend the open time has passed.
        b.open_until.store(1, Ordering::Release);
        let probe = b.admit().expect("the probe");
        assert!(probe.failed(), "a failed probe reopens at once");
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_probe_dropped_unsettled_lets_the_next_request_probe() {
        let b = breaker(1, 0);
        b.admit().unwrap().failed();
        drop(b.admit().expect("the probe"));
        b.admit().expect("the next probe").answered();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn zero_failures_never_opens() {
        let b = breaker(0, 60_000);
        for _ in 0..100 {
            assert!(!b.admit().unwrap().failed());
        }
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.retry_after(), Duration::from_secs(1));
    }
}
