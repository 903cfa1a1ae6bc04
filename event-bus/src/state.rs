//! The application state handed to every handler.

use crate::store::EventStore;
use crate::workers::Inboxes;
use shared::metrics::Metrics;
use std::sync::Arc;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Token checks, body decryption, draining flag, backends.
    pub common: shared::platform::Common,
    /// The `/health` answer, refreshed in the background.
    pub health: shared::health::HealthView,
    /// Event log and deliveries.
    pub store: Arc<dyn EventStore>,
    /// The subscriptions and the delivery workers' inboxes: publishes store deliveries for the
    /// subscribers that want them, hand them over and wake the workers.
    pub inboxes: Inboxes,
    /// Request and delivery counters for `/metrics`.
    pub metrics: Metrics,
}

shared::impl_common_from_ref!(AppState, common);

shared::impl_operations!(AppState, crate::SERVICE, gauges: crate::routes::health::gauges);
