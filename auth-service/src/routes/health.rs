//! The service's `/health` report (`shared::health`'s shape, `database` up or down; the routes
//! are `shared::ops`'s) and the internal session-status call other services make.

use crate::app::sessions::StoredSessions;
use crate::error::Error;
use crate::state::AppState;
use crate::store::UserStore;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{json, Value};
use shared::auth::InternalCaller;
use shared::error::ok;
use shared::sessions::SessionAuthority;
use shared::ApiError;
use std::sync::Arc;

/// The `/health` answer: whether the database answers.
pub async fn report(store: Arc<dyn UserStore>) -> Value {
    shared::health::database_report(crate::SERVICE, store.ping()).await
}

/// `GET /internal/sessions/:sid`: `{sid, revoked}`; an unknown sid counts as revoked.
#[utoipa::path(
    get,
    path = "/internal/sessions/{sid}",
    tag = "sessions",
    params(("sid" = String, Path, description = "The session id (the access token's `sid`).")),
    responses(
        (status = 200, description = "Whether it is live.",
            body = shared::openapi::Answer<super::openapi::internal::SessionStatusSchema>),
        shared::openapi::InvalidId,
        shared::openapi::InternalRefusals,
    ),
    security(("internal" = []))
)]
pub async fn session_status(
    State(state): State<AppState>,
    _caller: InternalCaller,
    sid: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let Path(sid) = sid.map_err(|_| ApiError::invalid_id("session"))?;
    let live = StoredSessions(state.store.clone()).is_live(&sid).await?;
    Ok(ok(json!({ "sid": sid, "revoked": !live })))
}
