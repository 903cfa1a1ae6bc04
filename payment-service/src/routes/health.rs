//! What the service adds to the operations routes (`shared::ops`): its `/health` report
//! (`database` up or down) and its `/metrics` gauge (the outbox backlog).

use crate::state::AppState;
use crate::store::PaymentStore;
use serde_json::Value;
use std::sync::Arc;

/// The `/health` answer: whether the database answers.
pub async fn report(store: Arc<dyn PaymentStore>) -> Value {
    shared::health::database_report(crate::SERVICE, store.ping()).await
}

/// The `/metrics` gauge: the outbox backlog (left out when the database does not answer).
pub async fn gauges(state: &AppState) -> Vec<shared::metrics::Gauge<'static>> {
    let pending = state.store.outbox().pending().await.ok();
    pending
        .map(|n| {
            shared::metrics::Gauge::new(
                "payment_outbox_pending",
                "Events not yet acknowledged by the bus.",
                n as f64,
            )
        })
        .into_iter()
        .collect()
}
