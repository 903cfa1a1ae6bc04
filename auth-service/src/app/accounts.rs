//! Accounts: registration, login (both opening a session), logout, an admin's change to a user,
//! and the caller's user. Login attempts are limited per email address.

use super::sessions::{self, TokenPair};
use crate::domain::{Role, User, UserPatch};
use crate::error::Error;
use crate::state::AppState;
use shared::auth::AuthUser;
use shared::store::{now_ms, StoreError};

/// What a registration asks for.
pub struct Registration {
    /// Display name.
    pub name: String,
    /// Email address (already normalised by validation).
    pub email: String,
    /// Password in clear, hashed here.
    pub password: String,
    /// The role asked for; only `user` may be asked for.
    pub role: Option<String>,
}

/// Creates a user account and opens its first session.
pub async fn register(state: &AppState, new: Registration) -> Result<(User, TokenPair), Error> {
    if new.role.as_deref() == Some("admin") {
        return Err(Error::AdminRegistrationForbidden);
    }
    limit_attempts(state, &new.email).await?;
    if state.store.find_user_by_email(&new.email).await?.is_some() {
        return Err(Error::EmailTaken);
    }
    let now = now_ms();
    let user = User {
        id: shared::ids::new_object_id(),
        name: new.name,
        email: new.email,
        password_hash: state.passwords.hash(&new.password).await?,
        role: Role::User,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    match state.store.create_user(&user).await {
        Err(StoreError::Conflict(_)) => return Err(Error::EmailTaken),
        other => other?,
    }
    let pair = sessions::open(state, &user).await?;
    Ok((user, pair))
}

/// Checks the password of `email` (an unknown email costs the same as a wrong password) and opens
/// a session for an active account.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
) -> Result<(User, TokenPair), Error> {
    limit_attempts(state, email).await?;
    let user = state.store.find_user_by_email(email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.as_str());
    let matched = state.passwords.verify(password, hash).await?;
    let user = match user {
        Some(u) if matched => u,
        _ => return Err(Error::InvalidCredentials),
    };
    if !user.is_active {
        return Err(Error::AccountDisabled);
    }
    let pair = sessions::open(state, &user).await?;
    Ok((user, pair))
}

/// Ends the caller's session, and every session of theirs with `all`, or the session of
/// `refresh_token` when it is one of theirs.
pub async fn logout(
    state: &AppState,
    caller: &AuthUser,
    refresh_token: Option<&str>,
    all: bool,
) -> Result<(), Error> {
    sessions::end(state, &caller.claims.sid).await?;
    if all {
        sessions::end_all(state, &caller.user_id).await?;
    } else if let Some(token) = refresh_token {
        // A refresh token of another of the caller's sessions ends that session too.
        let hash = state.refresh.hash(token);
        if let Some(t) = state.store.find_refresh_token(&hash).await? {
            if t.user_id == caller.user_id {
                sessions::end(state, &t.sid).await?;
            }
        }
    }
    Ok(())
}

/// An admin's change to user `id`: not to their own role or active flag; a user disabled or given
/// another role loses every session (their tokens carry the old role). The user after the change.
pub async fn change_user(
    state: &AppState,
    admin: &AuthUser,
    id: &str,
    patch: UserPatch,
) -> Result<User, Error> {
    let demotes_self = patch.role.is_some_and(|r| r != Role::Admin);
    let disables_self = patch.is_active == Some(false);
    if id == admin.user_id && (demotes_self || disables_self) {
        return Err(Error::SelfModification);
    }
    let before = state
        .store
        .find_user(id)
        .await?
        .ok_or(Error::UserNotFound)?;
    let after = state
        .store
        .update_user(id, patch, now_ms())
        .await?
        .ok_or(Error::UserNotFound)?;
    if !after.is_active || after.role != before.role {
        sessions::end_all(state, id).await?;
    }
    Ok(after)
}

/// The caller's user while the account is active; else the session counts as ended.
pub async fn active_user(state: &AppState, caller: &AuthUser) -> Result<User, Error> {
    match state.store.find_user(&caller.user_id).await? {
        Some(u) if u.is_active => Ok(u),
        _ => Err(Error::SessionRevoked),
    }
}

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
