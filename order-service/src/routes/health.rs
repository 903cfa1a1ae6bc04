//! What the service adds to the operations routes (`shared::ops`): its `/health` report (the
//! outbox backlog and the database state) and its `/metrics` gauge (the outbox backlog).

use crate::state::AppState;
use crate::store::OrderStore;
use crate::SERVICE;
use serde_json::Value;
use std::sync::Arc;

/// The `/health` answer (`shared::health`'s shape): whether the database answered (`up`/`down`)
/// and the number of undelivered events (null when it did not).
pub async fn report(store: Arc<dyn OrderStore>) -> Value {
    let outbox = store.outbox();
    let pending = tokio::time::timeout(shared::health::PROBE_WAIT, outbox.pending())
        .await
        .ok()
        .and_then(Result::ok);
    shared::health::Report::new(SERVICE)
        .dependency("database", pending.is_some())
        .field("outboxPending", pending)
        .into_json()
}

/// The `/metrics` gauge: the outbox backlog (left out when the database does not answer).
pub async fn gauges(state: &AppState) -> Vec<shared::metrics::Gauge<'static>> {
    let pending = state.store.outbox().pending().await.ok();
    pending
        .map(|n| {
            shared::metrics::Gauge::new(
                "order_outbox_pending",
                "Outbox events not yet delivered to the bus.",
                n as f64,
            )
        })
        .into_iter()
        .collect()
}
