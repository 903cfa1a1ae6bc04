//! The BSON shapes of users, sessions and refresh tokens (ids as `_id` strings, times as i64 UTC
//! milliseconds, as in SQLite) and their mapping to and from the domain types.

use crate::domain::{RefreshToken, Role, Session, User};
use serde::{Deserialize, Serialize};
use shared::store::StoreError;

/// A user as stored.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct UserDoc {
    #[serde(rename = "_id")]
    id: String,
    name: String,
    email: String,
    email_lc: String,
    password_hash: String,
    role: String,
    is_active: bool,
    created_at: i64,
    updated_at: i64,
}

impl UserDoc {
    pub(super) fn from_user(u: &User) -> Self {
        Self {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_lc: email_key(&u.email),
            password_hash: u.password_hash.clone(),
            role: u.role.as_str().to_string(),
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }

    pub(super) fn into_user(self) -> Result<User, StoreError> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| StoreError::Other(format!("stored role is invalid: {}", self.role)))?;
        Ok(User {
            id: self.id,
            name: self.name,
            email: self.email,
            password_hash: self.password_hash,
            role,
            is_active: self.is_active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A session as stored; one ended by `revoke_user_sessions` also carries `revoked_by`, that call's
/// operation id, which only that call reads.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SessionDoc {
    #[serde(rename = "_id")]
    pub(super) sid: String,
    user_id: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<&Session> for SessionDoc {
    fn from(s: &Session) -> Self {
        Self {
            sid: s.sid.clone(),
            user_id: s.user_id.clone(),
            created_at: s.created_at,
            revoked_at: s.revoked_at,
        }
    }
}

impl From<SessionDoc> for Session {
    fn from(d: SessionDoc) -> Self {
        Self {
            sid: d.sid,
            user_id: d.user_id,
            created_at: d.created_at,
            revoked_at: d.revoked_at,
        }
    }
}

/// A refresh token as stored.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct TokenDoc {
    #[serde(rename = "_id")]
    token_hash: String,
    sid: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<&RefreshToken> for TokenDoc {
    fn from(t: &RefreshToken) -> Self {
        Self {
            token_hash: t.token_hash.clone(),
            sid: t.sid.clone(),
            user_id: t.user_id.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            used_at: t.used_at,
        }
    }
}

impl From<TokenDoc> for RefreshToken {
    fn from(d: TokenDoc) -> Self {
        Self {
            token_hash: d.token_hash,
            sid: d.sid,
            user_id: d.user_id,
            created_at: d.created_at,
            expires_at: d.expires_at,
            used_at: d.used_at,
        }
    }
}

/// The lookup key of an email: trimmed and ASCII-lower-cased, as SQLite's `lower()` does.
pub(super) fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}
