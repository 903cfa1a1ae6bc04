//! The event API, for services only (the internal token): publish, list recent events, list dead
//! deliveries, replay. Events carry user ids and order contents, so none of it is public.

use super::wire::{DeadResponse, EventResponse, PublishRequest};
use crate::domain::delivery_body;
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use shared::auth::InternalCaller;
use shared::error::{ok, ApiError};
use shared::events::EventEnvelope;
use shared::extract::{JsonBody, QueryMap};
use shared::store::{now_ms, StoreError};
use shared::validate::QueryValidator;

/// `POST /events`: stores the events and their deliveries, then answers 202 with their ids.
pub async fn publish_events(
    State(state): State<AppState>,
    _caller: InternalCaller,
    JsonBody(PublishRequest(events)): JsonBody<PublishRequest>,
) -> Result<Response, ApiError> {
    // While the delivery workers run, the new deliveries are stored leased to this process and
    // handed to them directly, so no worker has to claim them from the store. In a task of its
    // own: a publisher that hangs up once they are stored must not leave them leased to nobody.
    let events = std::sync::Arc::new(events);
    let stored = tokio::spawn(store_and_hand_over(state.clone(), events.clone()))
        .await
        .map_err(|e| ApiError::internal_from(&e))??;
    tracing::info!(
        received = events.len(),
        stored = stored.len(),
        "events accepted"
    );
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let body = json!({"success": true, "status": "OK", "data": {"ids": ids}});
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Stores `events` and hands their new deliveries to the running workers (or wakes them to claim
/// the deliveries from the store). Returns the ids newly stored.
async fn store_and_hand_over(
    state: AppState,
    events: std::sync::Arc<Vec<EventEnvelope>>,
) -> Result<Vec<String>, StoreError> {
    let now = now_ms();
    let due_at = state.wakers.handover_due_at(now);
    let names = state.subscriber_names();
    let stored = state
        .store
        .append_leased(&events, &names, now, due_at.unwrap_or(now))
        .await?;
    if stored.is_empty() {
        return Ok(stored);
    }
    if due_at.is_some() {
        let bodies = handover_bodies(&events, &stored)?;
        if let Err(e) = state.wakers.hand_over(&*state.store, &bodies, now).await {
            // Stored all the same: what no worker took is delivered when its lease ends.
            tracing::warn!(error = %e, "deliveries not given back; due when their lease ends");
        }
    } else {
        state.wakers.wake_all();
    }
    Ok(stored)
}

/// The delivery body of each newly stored event, in the order given.
fn handover_bodies(
    events: &[EventEnvelope],
    stored: &[String],
) -> Result<Vec<(String, bytes::Bytes)>, StoreError> {
    let new: std::collections::HashSet<&str> = stored.iter().map(String::as_str).collect();
    let mut seen = std::collections::HashSet::new();
    events
        .iter()
        .filter(|e| new.contains(e.id.as_str()) && seen.insert(e.id.as_str()))
        .map(|e| {
            let data = serde_json::to_string(&e.data)?;
            let body = delivery_body(&e.id, &e.event_type, &data, &e.occurred_at, &e.source);
            Ok((e.id.clone(), body))
        })
        .collect()
}

/// `GET /events?type=&limit=` (services only): recent events, newest first, with their deliveries.
pub async fn list_events(
    State(state): State<AppState>,
    _caller: InternalCaller,
    QueryMap(params): QueryMap,
) -> Result<Response, ApiError> {
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
pub async fn list_dead(
    State(state): State<AppState>,
    _caller: InternalCaller,
    QueryMap(params): QueryMap,
) -> Result<Response, ApiError> {
    let mut q = QueryValidator::new(&params);
    let limit = q.int("limit", 50, 1, 500);
    q.finish()?;
    let dead = state.store.dead(limit as u32).await?;
    let data: Vec<DeadResponse> = dead.iter().map(DeadResponse::from).collect();
    Ok(ok(data))
}

/// `POST /events/:id/replay` (services only): re-queues every delivery of the event.
pub async fn replay_event(
    State(state): State<AppState>,
    _caller: InternalCaller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path.map(|Path(id)| id).unwrap_or_default();
    let not_found = || ApiError::not_found("event_not_found", format!("Event {id} not found"));
    if id.is_empty() || id.chars().count() > 64 {
        return Err(not_found());
    }
    let queued = match state
        .store
        .replay(&id, &state.subscriber_names(), now_ms())
        .await
    {
        Ok(n) => n,
        Err(StoreError::NotFound) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    state.wakers.wake_all();
    tracing::info!(event_id = %id, queued, "event replayed");
    Ok(ok(json!({"id": id, "queued": queued})))
}
