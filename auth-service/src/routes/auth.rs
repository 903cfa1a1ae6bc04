//! `/api/auth` account routes: register, login, refresh, logout, verify, profile.

use super::wire::{user_json, LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest};
use crate::app::sessions::{self, TokenPair};
use crate::domain::{Role, User};
use crate::error::{counted, Error};
use crate::state::{AppState, LiveUser};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::{json, Value};
use shared::auth::AuthUser;
use shared::error::{created, message, ok};
use shared::extract::JsonBody;
use shared::store::now_ms;
use shared::ApiError;

async fn limit_attempts(state: &AppState, email: &str) -> Result<(), Error> {
    let key = format!("auth:email:{email}");
    match state
        .common
        .backends
        .limiter
        .hit(&key, state.auth_rate)
        .await
    {
        Ok(d) if !d.allowed => Err(shared::rate_limit::too_many_requests(&d).into()),
        Ok(_) => Ok(()),
        Err(e) => {
            // Fail open: the gateway's per-client limit still applies.
            tracing::warn!(error = %e, "auth rate limiter unavailable");
            Ok(())
        }
    }
}

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
pub async fn register(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<Response, Error> {
    let result = register_inner(&state, req).await;
    counted(&state.metrics, "register", result)
}

async fn register_inner(state: &AppState, req: RegisterRequest) -> Result<Response, Error> {
    if req.role.as_deref() == Some("admin") {
        return Err(Error::AdminRegistrationForbidden);
    }
    limit_attempts(state, &req.email).await?;
    if state.store.find_user_by_email(&req.email).await?.is_some() {
        return Err(Error::EmailTaken);
    }
    let now = now_ms();
    let user = User {
        id: shared::ids::new_object_id(),
        name: req.name,
        email: req.email,
        password_hash: state.passwords.hash(&req.password).await?,
        role: Role::User,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    match state.store.create_user(&user).await {
        Err(shared::store::StoreError::Conflict(_)) => return Err(Error::EmailTaken),
        other => other?,
    }
    let pair = sessions::open(state, &user).await?;
    Ok(no_store(created(session_body(&user, pair))))
}

/// `POST /login`: 200 with the user and a token pair.
pub async fn login(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, Error> {
    let result = login_inner(&state, req).await;
    counted(&state.metrics, "login", result)
}

async fn login_inner(state: &AppState, req: LoginRequest) -> Result<Response, Error> {
    limit_attempts(state, &req.email).await?;
    let user = state.store.find_user_by_email(&req.email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.as_str());
    let matched = state.passwords.verify(&req.password, hash).await?;
    let user = match user {
        Some(u) if matched => u,
        _ => return Err(Error::InvalidCredentials),
    };
    if !user.is_active {
        return Err(Error::AccountDisabled);
    }
    let pair = sessions::open(state, &user).await?;
    Ok(no_store(ok(session_body(&user, pair))))
}

/// `POST /refresh`: a new pair in the same session; the presented token stops working.
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Response, Error> {
    let result = refresh_inner(&state, req).await;
    counted(&state.metrics, "refresh", result)
}

async fn refresh_inner(state: &AppState, req: RefreshRequest) -> Result<Response, Error> {
    let pair = sessions::rotate(state, &req.refresh_token).await?;
    Ok(no_store(ok(json!({
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
    }))))
}

/// `POST /logout`: ends the caller's session (or every session with `all: true`).
pub async fn logout(
    State(state): State<AppState>,
    LiveUser(user): LiveUser,
    JsonBody(req): JsonBody<LogoutRequest>,
) -> Result<Response, Error> {
    let result = logout_inner(&state, user, req).await;
    counted(&state.metrics, "logout", result)
}

async fn logout_inner(
    state: &AppState,
    user: AuthUser,
    req: LogoutRequest,
) -> Result<Response, Error> {
    sessions::end(state, &user.claims.sid).await?;
    if req.all {
        sessions::end_all(state, &user.user_id).await?;
    } else if let Some(token) = req.refresh_token {
        // A refresh token of another of the caller's sessions ends that session too.
        let hash = state.refresh.hash(&token);
        if let Some(t) = state.store.find_refresh_token(&hash).await? {
            if t.user_id == user.user_id {
                sessions::end(state, &t.sid).await?;
            }
        }
    }
    Ok(message("Logged out successfully"))
}

/// `GET /verify`: who a live access token belongs to; 401 for anything else.
pub async fn verify(
    State(state): State<AppState>,
    user: Result<LiveUser, ApiError>,
) -> Result<Response, Error> {
    let LiveUser(caller) = user.map_err(|e| match e.status.as_u16() {
        401 => Error::InvalidToken,
        _ => Error::Api(e),
    })?;
    let user = active_user(&state, &caller).await.map_err(|e| match e {
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
pub async fn profile(
    State(state): State<AppState>,
    LiveUser(caller): LiveUser,
) -> Result<Response, Error> {
    let user = active_user(&state, &caller).await?;
    Ok(ok(user_json(&user)))
}

async fn active_user(state: &AppState, caller: &AuthUser) -> Result<User, Error> {
    match state.store.find_user(&caller.user_id).await? {
        Some(u) if u.is_active => Ok(u),
        _ => Err(Error::SessionRevoked),
    }
}
