//! Publishing and replaying events. Publishing stores the events and a delivery for each
//! subscriber that wants their type, then wakes those subscribers' workers; replaying puts every
//! delivery of one event back to pending.

use crate::error::Error;
use crate::state::AppState;
use shared::events::EventEnvelope;
use shared::store::{now_ms, StoreError};
use shared::ApiError;
use std::sync::Arc;

/// Stores `events` (each id once) with their deliveries; the ids newly stored.
pub async fn publish(
    state: &AppState,
    events: Arc<Vec<EventEnvelope>>,
) -> Result<Vec<String>, Error> {
    // In a task of its own: a publisher that hangs up once the events are stored must not leave
    // their deliveries leased to nobody (see `Inboxes::publish`).
    let task = {
        let (state, events) = (state.clone(), events.clone());
        tokio::spawn(async move { state.inboxes.publish(&*state.store, &events).await })
    };
    let stored = task.await.map_err(|e| ApiError::internal_from(&e))??;
    tracing::info!(
        received = events.len(),
        stored = stored.len(),
        "events accepted"
    );
    Ok(stored)
}

/// Re-queues every delivery of event `id` (adding one for each subscriber that wants its type and
/// lacks one); how many are queued.
pub async fn replay(state: &AppState, id: &str) -> Result<u64, Error> {
    if id.is_empty() || id.chars().count() > 64 {
        return Err(Error::EventNotFound(id.to_owned()));
    }
    let queued = match state
        .store
        .replay(id, state.inboxes.subscriptions(), now_ms())
        .await
    {
        Ok(n) => n,
        Err(StoreError::NotFound) => return Err(Error::EventNotFound(id.to_owned())),
        Err(e) => return Err(e.into()),
    };
    state.inboxes.wake_all();
    tracing::info!(event_id = %id, queued, "event replayed");
    Ok(queued)
}
