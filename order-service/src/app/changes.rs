//! Changes to a placed order other than payments: cancelling it. The store applies each in one
//! conditional change with the event `events` makes of the order after it.

use super::events;
use crate::domain::{OrderStatus, Transition};
use crate::state::AppState;
use crate::store::Cancellation;
use shared::store::StoreError;

/// Cancels order `id` from one of the statuses `from` (only `owner`'s, when given), with its
/// `OrderCancelled` event and stock release; when it applied, wakes the relay and the release
/// worker and counts the cancellation under `outcome`.
pub async fn cancel(
    state: &AppState,
    id: &str,
    owner: Option<&str>,
    from: &[OrderStatus],
    outcome: &str,
) -> Result<Transition, StoreError> {
    let cancel = Cancellation { id, owner, from };
    let transition = state.store.cancel(cancel, events::cancellation).await?;
    if matches!(transition, Transition::Applied(_)) {
        state.event_written();
        state.release_queued();
        state.count_event("order_cancelled", outcome);
    }
    Ok(transition)
}
