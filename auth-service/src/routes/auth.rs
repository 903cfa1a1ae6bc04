//! `/api/auth` account routes: register, login, refresh, logout, verify, profile.

use super::openapi::{
    BodyRefusals, LoginSchema, LogoutSchema, RefreshSchema, RegistrationSchema, SessionSchema,
    TokenPairSchema, UserSchema, VerifiedSchema,
};
use super::wire::{user_json, LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest};
use crate::app::accounts;
use crate::app::sessions::{self, TokenPair};
use crate::domain::User;
use crate::error::{counted, Error};
use crate::state::{AppState, LiveUser};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::{json, Value};
use shared::error::{created, message, ok};
use shared::extract::JsonBody;
use shared::openapi::{Answer, ErrorAnswer, TokenRefusals};
use shared::ApiError;

/// A token answer must not be stored by any cache on the way (RFC 6749 §5.1).
fn no_store(mut res: Response) -> Response {
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn session_body(user: &User, pair: TokenPair) -> Value {
    json!({
        "user": user_json(user),
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
    })
}

/// `POST /register`: 201 with the user and a token pair.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body = RegistrationSchema,
    responses(
        (status = 201, description = "The account and its first session.", body = Answer<SessionSchema>),
        BodyRefusals,
        (status = 403, description = "`admin_registration_forbidden`.", body = ErrorAnswer),
        (status = 409, description = "`email_taken` (in any case).", body = ErrorAnswer),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Response, Error> {
    let result = accounts::register(&state, req.0)
        .await
        .map(|(user, pair)| no_store(created(session_body(&user, pair))));
    counted(&state.metrics, "register", result)
}

/// `POST /login`: 200 with the user and a token pair.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginSchema,
    responses(
        (status = 200, description = "A new session.", body = Answer<SessionSchema>),
        BodyRefusals,
        (status = 401, description = "`invalid_credentials`.", body = ErrorAnswer),
        (status = 403, description = "`account_disabled`.", body = ErrorAnswer),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, Error> {
    let result = accounts::login(&state, &req.email, &req.password)
        .await
        .map(|(user, pair)| no_store(ok(session_body(&user, pair))));
    counted(&state.metrics, "login", result)
}

/// `POST /refresh`: a new pair in the same session; the presented token stops working.
#[utoipa::path(
    post,
    path = "/api/auth/refresh",
    tag = "auth",
    request_body = RefreshSchema,
    responses(
        (status = 200, description = "A new token pair; the one presented stops working.", body = Answer<TokenPairSchema>),
        BodyRefusals,
        (status = 401, description = "`invalid_refresh_token`, or `refresh_token_reused` (the session is ended).", body = ErrorAnswer),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Response, Error> {
    let result = sessions::rotate(&state, &req.refresh_token)
        .await
        .map(|pair| {
            no_store(ok(json!({
                "accessToken": pair.access_token,
                "refreshToken": pair.refresh_token,
            })))
        });
    counted(&state.metrics, "refresh", result)
}

/// `POST /logout`: ends the caller's session (or every session with `all: true`).
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    request_body = LogoutSchema,
    responses(
        (status = 200, description = "`{success, message}`: the session (or every session) ended; its tokens stop working at once."),
        BodyRefusals,
        TokenRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn logout(
    State(state): State<AppState>,
    LiveUser(user): LiveUser,
    JsonBody(req): JsonBody<LogoutRequest>,
) -> Result<Response, Error> {
    let result = accounts::logout(&state, &user, req.refresh_token.as_deref(), req.all)
        .await
        .map(|()| message("Logged out successfully"));
    counted(&state.metrics, "logout", result)
}

/// `GET /verify`: who a live access token belongs to; 401 for anything else.
#[utoipa::path(
    get,
    path = "/api/auth/verify",
    tag = "auth",
    responses(
        (status = 200, description = "The token's user.", body = Answer<VerifiedSchema>),
        (status = 401, description = "`token_missing` or `token_invalid` (expired, ended or disabled too).", body = ErrorAnswer),
    ),
    security(("bearer" = []))
)]
pub async fn verify(
    State(state): State<AppState>,
    user: Result<LiveUser, ApiError>,
) -> Result<Response, Error> {
    let LiveUser(caller) = user.map_err(|e| match e.status.as_u16() {
        401 => Error::InvalidToken,
        _ => Error::Api(e),
    })?;
    let user = accounts::active_user(&state, &caller)
        .await
        .map_err(|e| match e {
            Error::SessionRevoked => Error::InvalidToken,
            other => other,
        })?;
    Ok(ok(json!({
        "userId": user.id,
        "_id": user.id,
        "role": user.role.as_str(),
        "email": user.email,
    })))
}

/// `GET /profile`: the caller's user.
#[utoipa::path(
    get,
    path = "/api/auth/profile",
    tag = "auth",
    responses(
        (status = 200, description = "The caller.", body = Answer<UserSchema>),
        TokenRefusals,
    ),
    security(("bearer" = []))
)]
pub async fn profile(
    State(state): State<AppState>,
    LiveUser(caller): LiveUser,
) -> Result<Response, Error> {
    let user = accounts::active_user(&state, &caller).await?;
    Ok(ok(user_json(&user)))
}
