//! `/api/auth/users` (admin): list users and change a user's role or active flag. Disabling or
//! changing the role of a user ends all their sessions, so their old tokens stop working at once.

use super::wire::{user_json, PatchUserRequest};
use crate::app::accounts;
use crate::error::Error;
use crate::state::{AppState, LiveAdmin};
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use shared::error::{ok, paginated, Pagination};
use shared::extract::{IdPath, JsonBody, QueryMap};
use shared::store::PageRequest;
use shared::validate::QueryValidator;

/// `GET /users?page&limit`: users, newest first.
pub async fn list_users(
    State(state): State<AppState>,
    _admin: LiveAdmin,
    QueryMap(query): QueryMap,
) -> Result<Response, Error> {
    let mut q = QueryValidator::new(&query);
    let page = q.int("page", 1, 1, 1_000_000) as u64;
    let limit = q.int("limit", 20, 1, 100) as u64;
    q.finish()?;
    let (users, total) = state.store.list_users(PageRequest { page, limit }).await?;
    let data: Vec<Value> = users.iter().map(user_json).collect();
    Ok(paginated(data, Pagination::new(page, limit, total)))
}

/// `PATCH /users/:id`: change role and/or active flag.
pub async fn patch_user(
    State(state): State<AppState>,
    LiveAdmin(admin): LiveAdmin,
    IdPath(id): IdPath,
    JsonBody(PatchUserRequest(patch)): JsonBody<PatchUserRequest>,
) -> Result<Response, Error> {
    let after = accounts::change_user(&state, &admin, &id, patch).await?;
    Ok(ok(user_json(&after)))
}
