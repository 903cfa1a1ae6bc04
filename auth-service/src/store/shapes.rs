//! The stored shapes of users, sessions and refresh tokens, the same in both backends (rows in
//! SQLite; documents in MongoDB, the key as `_id`; times as i64 UTC milliseconds in both), and
//! their mapping to and from the domain types.

use crate::domain::{RefreshToken, Role, Session, User};
use serde::{Deserialize, Serialize};
use shared::sqlite::Stored;
use shared::store::StoreError;

/// A user as stored. `email_lc`, the lookup key, is a MongoDB field (SQLite looks up
/// `lower(email)`), written and never read back.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredUser {
    #[serde(rename = "_id", alias = "id")]
    id: String,
    name: String,
    email: String,
    #[serde(default, skip_deserializing)]
    email_lc: String,
    password_hash: String,
    role: String,
    is_active: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<&User> for StoredUser {
    fn from(u: &User) -> Self {
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
}

impl TryFrom<StoredUser> for User {
    type Error = StoreError;

    fn try_from(d: StoredUser) -> Result<Self, StoreError> {
        let role = Role::parse(&d.role)
            .ok_or_else(|| StoreError::Other(format!("stored role is invalid: {}", d.role)))?;
        Ok(User {
            id: d.id,
            name: d.name,
            email: d.email,
            password_hash: d.password_hash,
            role,
            is_active: d.is_active,
            created_at: d.created_at,
            updated_at: d.updated_at,
        })
    }
}

impl Stored for User {
    type Row = StoredUser;
}

/// A session as stored; one ended by `revoke_user_sessions` also carries `revoked_by`, that call's
/// operation id, which only that call reads.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredSession {
    #[serde(rename = "_id", alias = "sid")]
    pub(super) sid: String,
    user_id: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<&Session> for StoredSession {
    fn from(s: &Session) -> Self {
        Self {
            sid: s.sid.clone(),
            user_id: s.user_id.clone(),
            created_at: s.created_at,
            revoked_at: s.revoked_at,
        }
    }
}

impl TryFrom<StoredSession> for Session {
    type Error = StoreError;

    fn try_from(d: StoredSession) -> Result<Self, StoreError> {
        Ok(Self {
            sid: d.sid,
            user_id: d.user_id,
            created_at: d.created_at,
            revoked_at: d.revoked_at,
        })
    }
}

impl Stored for Session {
    type Row = StoredSession;
}

/// A refresh token as stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredToken {
    #[serde(rename = "_id", alias = "token_hash")]
    token_hash: String,
    sid: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<&RefreshToken> for StoredToken {
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

impl TryFrom<StoredToken> for RefreshToken {
    type Error = StoreError;

    fn try_from(d: StoredToken) -> Result<Self, StoreError> {
        Ok(Self {
            token_hash: d.token_hash,
            sid: d.sid,
            user_id: d.user_id,
            created_at: d.created_at,
            expires_at: d.expires_at,
            used_at: d.used_at,
        })
    }
}

impl Stored for RefreshToken {
    type Row = StoredToken;
}

/// The lookup key of an email: trimmed and ASCII-lower-cased, as SQLite's `lower()` does.
pub(super) fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}
