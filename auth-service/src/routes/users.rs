//! `/api/auth/users` (admin): list users and change a user's role or active flag. Disabling or
//! changing the role of a user ends all their sessions, so their old tokens stop working at once.

use super::openapi::{UserChangeSchema, UserIdParam, UserSchema};
use super::wire::{user_json, PatchUserRequest};
use crate::app::accounts;
use crate::error::Error;
use crate::state::{AppState, LiveAdmin};
use axum::extract::State;
use axum::response::Response;
use serde_json::Value;
use shared::error::{ok, paginated, Pagination};
use shared::extract::{IdPath, JsonBody, QueryMap};
use shared::openapi::{AdminRefusals, Answer, ErrorAnswer, PageAnswer, PageParams};
use shared::validate::QueryValidator;

/// The page size of `GET /api/auth/users` when the client names none.
const PAGE_SIZE: u64 = 20;

/// `GET /users?page&limit`: users, newest first.
#[utoipa::path(
    get,
    path = "/api/auth/users",
    tag = "auth",
    params(PageParams<PAGE_SIZE>),
    responses(
        (status = 200, description = "A page of users, newest first.", body = PageAnswer<UserSchema>),
        (status = 400, description = "`validation_failed`: a bad or unknown parameter.", body = ErrorAnswer),
        AdminRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: LiveAdmin,
    QueryMap(query): QueryMap,
) -> Result<Response, Error> {
    let mut q = QueryValidator::new(&query);
    let page = q.page(PAGE_SIZE);
    q.finish()?;
    let (users, total) = state.store.list_users(page).await?;
    let data: Vec<Value> = users.iter().map(user_json).collect();
    Ok(paginated(
        data,
        Pagination::new(page.page, page.limit, total),
    ))
}

/// `PATCH /users/:id`: change role and/or active flag.
#[utoipa::path(
    patch,
    path = "/api/auth/users/{id}",
    tag = "auth",
    params(UserIdParam),
    request_body = UserChangeSchema,
    responses(
        (status = 200, description = "The user after the change.", body = Answer<UserSchema>),
        (status = 400, description = "`validation_failed`, `malformed_json` or `invalid_id`.", body = ErrorAnswer),
        AdminRefusals,
        (status = 404, description = "`user_not_found`.", body = ErrorAnswer),
        (status = 409, description = "`self_modification_forbidden`: an admin's own account.", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn patch_user(
    State(state): State<AppState>,
    LiveAdmin(admin): LiveAdmin,
    IdPath(id): IdPath,
    JsonBody(PatchUserRequest(patch)): JsonBody<PatchUserRequest>,
) -> Result<Response, Error> {
    let after = accounts::change_user(&state, &admin, &id, patch).await?;
    Ok(ok(user_json(&after)))
}
