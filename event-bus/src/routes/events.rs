//! The event API, for services only (the internal token): publish, list recent events, list dead
//! deliveries, replay. Events carry user ids and order contents, so none of it is public.

use super::openapi::{
    DeadLetterSchema, DeadParams, NewEventsSchema, PublishedSchema, RecentParams, ReplayedSchema,
    StoredEventSchema,
};
use super::wire::{DeadResponse, EventResponse, PublishRequest};
use crate::app::events;
use crate::error::Error;
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shared::auth::InternalCaller;
use shared::error::ok;
use shared::extract::{JsonBody, QueryMap};
use shared::openapi::{Answer, ErrorAnswer, InternalRefusals, InvalidId};
use shared::validate::QueryValidator;
use shared::ApiError;

/// `POST /events`: stores the events and their deliveries, then answers 202 with their ids.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    request_body = NewEventsSchema,
    responses(
        (status = 202, description = "Stored (with a pending delivery per subscriber of each \
            type); delivered in the background.", body = PublishedSchema),
        (status = 400, description = "`validation_failed`: a bad event (none is stored).",
            body = ErrorAnswer),
        InternalRefusals,
        (status = 413, description = "`payload_too_large`.", body = ErrorAnswer),
    ),
    security(("internal" = []))
)]
pub async fn publish_events(
    State(state): State<AppState>,
    _caller: InternalCaller,
    JsonBody(PublishRequest(events)): JsonBody<PublishRequest>,
) -> Result<Response, Error> {
    let events = std::sync::Arc::new(events);
    events::publish(&state, events.clone()).await?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let body = json!({"success": true, "status": "OK", "data": {"ids": ids}});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `GET /events?type=&limit=` (services only): recent events, newest first, with their deliveries.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(RecentParams),
    responses(
        (status = 200, description = "Recent events, newest first.", body = Answer<Vec<StoredEventSchema>>),
        (status = 400, description = "`validation_failed`: a bad or unknown parameter.",
            body = ErrorAnswer),
        InternalRefusals,
    ),
    security(("internal" = []))
)]
pub async fn list_events(
    State(state): State<AppState>,
    _caller: InternalCaller,
    QueryMap(params): QueryMap,
) -> Result<Response, Error> {
    let mut q = QueryValidator::new(&params);
    let event_type = q.string("type", 100);
    let limit = q.int("limit", 50, 1, 500);
    q.finish()?;
    let events = state
        .store
        .recent(event_type.as_deref(), limit as u32)
        .await?;
    let data: Vec<EventResponse> = events.iter().map(EventResponse::with_deliveries).collect();
    Ok(ok(data))
}

/// `GET /events/dead?limit=` (services only): dead-lettered deliveries with their events.
#[utoipa::path(
    get,
    path = "/events/dead",
    tag = "events",
    params(DeadParams),
    responses(
        (status = 200, description = "Dead letters, most recently failed first.",
            body = Answer<Vec<DeadLetterSchema>>),
        (status = 400, description = "`validation_failed`: a bad or unknown parameter.",
            body = ErrorAnswer),
        InternalRefusals,
    ),
    security(("internal" = []))
)]
pub async fn list_dead(
    State(state): State<AppState>,
    _caller: InternalCaller,
    QueryMap(params): QueryMap,
) -> Result<Response, Error> {
    let mut q = QueryValidator::new(&params);
    let limit = q.int("limit", 50, 1, 500);
    q.finish()?;
    let dead = state.store.dead(limit as u32).await?;
    let data: Vec<DeadResponse> = dead.iter().map(DeadResponse::from).collect();
    Ok(ok(data))
}

/// `POST /events/:id/replay` (services only): re-queues every delivery of the event (adding one
/// for each subscriber that wants its type and lacks one).
#[utoipa::path(
    post,
    path = "/events/{id}/replay",
    tag = "events",
    params(("id" = String, Path, description = "The event's id.")),
    responses(
        (status = 200, description = "Its deliveries, queued again.", body = Answer<ReplayedSchema>),
        InvalidId,
        InternalRefusals,
        (status = 404, description = "`event_not_found`.", body = ErrorAnswer),
    ),
    security(("internal" = []))
)]
pub async fn replay_event(
    State(state): State<AppState>,
    _caller: InternalCaller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let Path(id) = path.map_err(|_| ApiError::invalid_id("event"))?;
    let queued = events::replay(&state, &id).await?;
    Ok(ok(json!({"id": id, "queued": queued})))
}
