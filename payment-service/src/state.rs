//! The state every handler sees, built once.

use crate::app::Processor;
use crate::clients::orders::OrdersClient;
use crate::store::PaymentStore;
use shared::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// Auth, body decryption, internal token, draining flag.
    pub common: shared::platform::Common,
    /// The `/health` answer, refreshed in the background.
    pub health: shared::health::HealthView,
    /// Payments.
    pub store: Arc<dyn PaymentStore>,
    /// Charging and refunding.
    pub processor: Arc<Processor>,
    /// The order service.
    pub orders: OrdersClient,
    /// Charges and refunds started by requests run here, so that a dropped connection never
    /// leaves one half done and shutdown waits for them.
    pub tasks: TaskTracker,
    /// Cancelled at shutdown; request-started work stops with it and gives its claim back.
    pub cancel: CancellationToken,
    /// How long a request waits for its charge before answering 202.
    pub charge_wait: Duration,
    /// Request and business metrics.
    pub metrics: Metrics,
}

shared::impl_common_from_ref!(AppState, common);

shared::impl_operations!(AppState, crate::SERVICE, gauges: crate::routes::health::gauges);
