//! Session lifecycle: opening a session (access + refresh token) at login/registration, rotating
//! refresh tokens with reuse detection, and ending sessions both in the database and in the shared
//! session set so that every service refuses their access tokens at once.

use crate::domain::{RefreshToken, Session, User};
use crate::error::Error;
use crate::state::AppState;
use crate::store::UserStore;
use async_trait::async_trait;
use shared::sessions::{SessionAuthority, SessionError, SESSION_TTL};
use shared::store::now_ms;
use std::sync::Arc;

/// The auth service's own answer about a session: live in its database (which survives restarts
/// and Redis flushes). Used by its `AuthUser` checks and by `GET /internal/sessions/:sid`.
pub struct StoredSessions(pub Arc<dyn UserStore>);

#[async_trait]
impl SessionAuthority for StoredSessions {
    async fn is_live(&self, sid: &str) -> Result<bool, SessionError> {
        if sid.len() > 64 {
            return Ok(false);
        }
        let session = self
            .0
            .find_session(sid)
            .await
            .map_err(|e| SessionError(e.to_string()))?;
        Ok(session.is_some_and(|s| s.revoked_at.is_none()))
    }
}

/// A freshly issued token pair.
pub struct TokenPair {
    /// Access JWT.
    pub access_token: String,
    /// Opaque refresh token (the only time it is visible).
    pub refresh_token: String,
}

fn new_refresh(state: &AppState, sid: &str, user_id: &str, now: i64) -> (String, RefreshToken) {
    let (token, token_hash) = state.refresh.generate();
    let stored = RefreshToken {
        token_hash,
        sid: sid.to_string(),
        user_id: user_id.to_string(),
        created_at: now,
        expires_at: now + state.refresh_ttl_ms,
        used_at: None,
    };
    (token, stored)
}

/// Opens a new session for `user` and issues its first token pair.
pub async fn open(state: &AppState, user: &User) -> Result<TokenPair, Error> {
    let now = now_ms();
    let sid = shared::ids::new_object_id();
    let session = Session {
        sid: sid.clone(),
        user_id: user.id.clone(),
        created_at: now,
        revoked_at: None,
    };
    let (refresh_token, stored) = new_refresh(state, &sid, &user.id, now);
    state.store.create_session(&session, &stored).await?;
    let access_token = state
        .common
        .authenticator
        .issue(&user.id, user.role.as_str(), &sid)
        .await;
    Ok(TokenPair {
        access_token,
        refresh_token,
    })
}

/// Exchanges a refresh token for a new pair in the same session. A token presented a second time
/// ends its whole session.
pub async fn rotate(state: &AppState, presented: &str) -> Result<TokenPair, Error> {
    let now = now_ms();
    let hash = state.refresh.hash(presented);
    let Some(token) = state.store.find_refresh_token(&hash).await? else {
        return Err(Error::InvalidRefreshToken);
    };
    if token.used_at.is_some() {
        end(state, &token.sid).await?;
        return Err(Error::RefreshTokenReused);
    }
    let session = state.store.find_session(&token.sid).await?;
    if token.expires_at <= now || session.is_none_or(|s| s.revoked_at.is_some()) {
        return Err(Error::InvalidRefreshToken);
    }
    if !state.store.mark_refresh_token_used(&hash, now).await? {
        // Another request exchanged it between our read and our update: that is reuse too.
        end(state, &token.sid).await?;
        return Err(Error::RefreshTokenReused);
    }
    let user = match state.store.find_user(&token.user_id).await? {
        Some(u) if u.is_active => u,
        _ => {
            end(state, &token.sid).await?;
            return Err(Error::InvalidRefreshToken);
        }
    };
    let (refresh_token, stored) = new_refresh(state, &token.sid, &user.id, now);
    state.store.insert_refresh_token(&stored).await?;
    let access_token = state
        .common
        .authenticator
        .issue(&user.id, user.role.as_str(), &token.sid)
        .await;
    Ok(TokenPair {
        access_token,
        refresh_token,
    })
}

/// Ends session `sid` in the database and in the shared session set.
pub async fn end(state: &AppState, sid: &str) -> Result<(), Error> {
    state.store.revoke_session(sid, now_ms()).await?;
    state
        .common
        .backends
        .sessions
        .revoke_session(sid, SESSION_TTL)
        .await?;
    Ok(())
}

/// Ends every live session of `user_id`.
pub async fn end_all(state: &AppState, user_id: &str) -> Result<(), Error> {
    let sids = state.store.revoke_user_sessions(user_id, now_ms()).await?;
    for sid in sids {
        state
            .common
            .backends
            .sessions
            .revoke_session(&sid, SESSION_TTL)
            .await?;
    }
    Ok(())
}
