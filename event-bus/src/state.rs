//! The application state handed to every handler.

use crate::delivery::Inboxes;
use crate::domain::Subscriber;
use crate::store::EventStore;
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
    /// Configured subscribers (deliveries are created for each).
    pub subscribers: Arc<Vec<Subscriber>>,
    /// The delivery workers' inboxes: publishes hand deliveries over and wake them.
    pub inboxes: Inboxes,
    /// Request and delivery counters for `/metrics`.
    pub metrics: Metrics,
}

impl AppState {
    /// Subscriber names, the keys of delivery rows.
    pub fn subscriber_names(&self) -> Vec<String> {
        self.subscribers.iter().map(|s| s.name.clone()).collect()
    }
}

shared::impl_common_from_ref!(AppState, common);
