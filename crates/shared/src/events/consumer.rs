//! A consumer's `POST /events` (the order and payment services'): the bus delivers one event or a
//! batch with the internal token; every event is checked before any is applied (one bad event
//! refuses the batch, 400 `invalid_event`), then each is applied in order. The consumer's store
//! remembers the event ids it applied, so a redelivery changes nothing.

use super::{EventEnvelope, IncomingEvents};
use crate::auth::{InternalCaller, InternalToken};
use crate::error::ApiError;
use crate::extract::JsonBody;
use axum::extract::{FromRef, State};
use axum::Json;
use serde_json::{json, Value};
use std::future::Future;

/// A service that takes events from the bus at `POST /events` ([`receive_events`]).
pub trait EventConsumer: Clone + Send + Sync + 'static {
    /// What one event asks of the service (checked, not yet applied).
    type Reaction: Send;

    /// What `event` asks; `None` for a type the service ignores. An error refuses the batch.
    fn reaction_to(event: &EventEnvelope) -> Result<Option<Self::Reaction>, ApiError>;

    /// Applies one reaction (once per event id: a repeat is acknowledged and changes nothing).
    fn apply(&self, reaction: Self::Reaction) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// `POST /events`: one event or an array. Every event is checked before any is applied.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    request_body = crate::openapi::EventsSchema,
    responses(crate::openapi::DeliveryAnswers),
    security(("internal" = []))
)]
pub async fn receive_events<S>(
    State(state): State<S>,
    _caller: InternalCaller,
    JsonBody(IncomingEvents(events)): JsonBody<IncomingEvents>,
) -> Result<Json<Value>, ApiError>
where
    S: EventConsumer,
    InternalToken: FromRef<S>,
{
    let reactions = events
        .iter()
        .filter_map(|event| S::reaction_to(event).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    for reaction in reactions {
        state.apply(reaction).await?;
    }
    Ok(Json(json!({"success": true})))
}
