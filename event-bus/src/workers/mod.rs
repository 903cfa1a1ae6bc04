//! Fan-out: one worker per subscriber, so a slow or dead subscriber never delays the others. Each
//! worker keeps up to `DELIVERY_CONCURRENCY` attempts in flight: it takes the deliveries a publish
//! handed to its inbox (leased to this process when stored), claims due ones from the store (a
//! lease, so no other replica takes them meanwhile) as slots free up, is woken the moment events
//! are stored, and otherwise sleeps until its next delivery is due.
//! Every attempt is `POST <url>/events` with the internal token and a per-attempt timeout, on
//! kept-alive connections; the acknowledgements that completed together are recorded in one
//! store write.
//!
//! `inbox`: the hand-over from a publish to the workers; `delivery`: one subscriber's loop.

mod delivery;
mod inbox;

pub use delivery::Worker;
pub use inbox::{Inbox, Inboxes};

use shared::config::Secret;
use shared::retry::Backoff;
use shared::store::millis;
use std::time::Duration;

/// Most deliveries claimed in one store write.
pub(super) const CLAIM_BATCH: usize = 64;
/// Acknowledgements recorded in one store write at most, and the longest one waits for others
/// to share that write (the delivery is leased meanwhile; only its record waits).
pub(super) const ACK_BATCH: usize = 256;
pub(super) const ACK_DELAY: Duration = Duration::from_millis(2);
/// Longest sleep without looking for due deliveries (covers rows written by another process).
pub(super) const IDLE_POLL: Duration = Duration::from_secs(1);
/// How much longer than its attempts may take a claim lasts: only a bus that stopped without
/// giving its claims back (a crash) leaves deliveries leased, and they are due again after it.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What every worker shares: the store, the HTTP client and the retry schedule.
#[derive(Clone)]
pub struct DeliverySettings {
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// Delay schedule between attempts.
    pub backoff: Backoff,
    /// Longest one attempt may take.
    pub timeout: Duration,
    /// Sent as `x-internal-token`.
    pub internal_token: Secret<String>,
    /// Attempts in flight per subscriber.
    pub concurrency: usize,
}

/// Deliveries an inbox holds, in windows of attempts (`DELIVERY_CONCURRENCY`).
const INBOX_WINDOWS: usize = 4;

impl DeliverySettings {
    /// How long a claim or a handed-over delivery is leased, in ms: it may wait behind a full
    /// inbox and a full window of attempts before its own attempt ends, plus [`LEASE_MARGIN`].
    pub fn lease_ms(&self) -> i64 {
        millis(self.timeout * (INBOX_WINDOWS as u32 + 2) + LEASE_MARGIN)
    }

    /// Deliveries a subscriber's inbox holds: none with one attempt at a time, which keeps
    /// arrival order only if every delivery is claimed from the store in that order.
    pub(super) fn inbox_capacity(&self) -> usize {
        if self.concurrency <= 1 {
            0
        } else {
            self.concurrency * INBOX_WINDOWS
        }
    }
}
