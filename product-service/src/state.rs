//! The application state handed to every handler: the common piece (auth, body decryption,
//! internal token, draining flag), the store and the read cache.

use crate::cache::ProductCache;
use crate::store::ProductStore;
use shared::metrics::Metrics;
use shared::platform::Common;
use std::sync::Arc;

/// Shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct AppState {
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

shared::impl_common_from_ref!(AppState, common);
