//! What the bus adds to the operations routes (`shared::ops`): its `/health` report (the
//! original's fields, with real counts) and its `/metrics` gauges (the same totals).

use crate::state::AppState;
use crate::store::EventStore;
use serde_json::Value;
use std::sync::Arc;

/// The `/health` answer (`shared::health`'s shape) with the totals; a database that does not
/// answer makes it `degraded` with `database: "down"` and null totals.
pub async fn report(store: Arc<dyn EventStore>) -> Value {
    let counts = match tokio::time::timeout(shared::health::PROBE_WAIT, store.counts()).await {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health counts unavailable");
            None
        }
        Err(_) => None,
    };
    shared::health::Report::new(crate::SERVICE)
        .dependency("database", counts.is_some())
        .field("totalEvents", counts.as_ref().map(|c| c.total_events))
        .field("pending", counts.as_ref().map(|c| c.pending))
        .field("dead", counts.as_ref().map(|c| c.dead))
        .into_json()
}

/// The `/metrics` gauges: the store totals (left out when the database does not answer).
pub async fn gauges(state: &AppState) -> Vec<shared::metrics::Gauge<'static>> {
    match state.store.counts().await {
        Ok(c) => vec![
            shared::metrics::Gauge::new(
                "event_bus_events",
                "Events stored.",
                c.total_events as f64,
            ),
            shared::metrics::Gauge::new(
                "event_bus_deliveries_pending",
                "Deliveries not yet acknowledged.",
                c.pending as f64,
            ),
            shared::metrics::Gauge::new(
                "event_bus_deliveries_dead",
                "Dead-lettered deliveries.",
                c.dead as f64,
            ),
        ],
        Err(e) => {
            tracing::warn!(error = %e, "metrics totals unavailable");
            Vec::new()
        }
    }
}
