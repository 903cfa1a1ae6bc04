//! The state every handler shares: the common piece (auth, body decryption, internal token,
//! draining), the store, the product service client and the wake-ups of the background workers.

use crate::clients::ProductsClient;
use crate::store::OrderStore;
use shared::metrics::Metrics;
use shared::platform::Common;
use std::sync::Arc;
use tokio::sync::Notify;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// Auth, decryption, internal token, draining.
    pub common: Common,
    /// The `/health` answer, refreshed in the background.
    pub health: shared::health::HealthView,
    /// Orders, outbox and queued releases.
    pub store: Arc<dyn OrderStore>,
    /// The product service.
    pub products: ProductsClient,
    /// Wakes the outbox relay after an event is written.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the release worker after a release is queued.
    pub release_wake: Arc<Notify>,
    /// Request and business metrics.
    pub metrics: Metrics,
}

shared::impl_common_from_ref!(AppState, common);

impl AppState {
    /// Tells the relay that an event is waiting.
    pub fn event_written(&self) {
        self.outbox_wake.notify_one();
    }

    /// Tells the release worker that a release is waiting.
    pub fn release_queued(&self) {
        self.release_wake.notify_one();
    }

    /// Counts an order event (`order_created`, `order_cancelled`, …) with its outcome.
    pub fn count_event(&self, event: &str, outcome: &str) {
        self.metrics.incr(
            "order_events_total",
            "Order events (created, rejected, cancelled, status changes, payment events) by outcome.",
            &[("event", event), ("outcome", outcome)],
        );
    }
}

shared::impl_operations!(AppState, crate::SERVICE, gauges: crate::routes::health::gauges);
