//! The application state handed to every handler: the common piece (auth, body decryption,
//! internal token, draining flag), the store and the read cache.

use crate::cache::ProductCache;
use crate::store::ProductStore;
use shared::metrics::Metrics;
use shared::platform::Common;
use std::ops::Deref;
use std::sync::Arc;

/// Shared by every handler: one pointer, so the clones axum makes per request cost one count.
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

/// What [`AppState`] holds.
pub struct Parts {
    /// Auth, decryption, internal token, draining, backends.
    pub common: Common,
    /// Products and reservations.
    pub store: Arc<dyn ProductStore>,
    /// The `/health` answer, refreshed in the background.
    pub health: shared::health::HealthView,
    /// Read-through cache with generation invalidation.
    pub cache: ProductCache,
    /// Request and business counters for `/metrics`.
    pub metrics: Metrics,
}

impl AppState {
    /// The state holding `parts`.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }
}

impl Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

shared::impl_common_from_ref!(AppState, common);

shared::impl_operations!(AppState, crate::SERVICE);
