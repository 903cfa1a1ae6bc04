//! The stored shapes of users, sessions and refresh tokens, the same in both backends (rows in
//! SQLite; documents in MongoDB, the key as `_id`; times as i64 UTC milliseconds in both), and
//! their mapping to and from the domain types.

use crate::domain::{RefreshToken, Role, Session, User};
use serde::{Deserialize, Serialize};
use shared::sqlite::Stored;

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
    #[serde(with = "shared::spelled::stored")]
    role: Role,
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
            role: u.role,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl From<StoredUser> for User {
    fn from(d: StoredUser) -> Self {
        User {
            id: d.id,
            name: d.name,
            email: d.email,
            password_hash: d.password_hash,
            role: d.role,
            is_active: d.is_active,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

impl Stored for User {
    type Row = StoredUser;
}

shared::stored_as_is! {
    /// A session as stored; one ended by `revoke_user_sessions` also carries `revoked_by`, that
    /// call's operation id, which only that call reads.
    pub struct StoredSession for Session {
        #[serde(rename = "_id", alias = "sid")]
        pub(super) sid: String,
        user_id: String,
        created_at: i64,
        revoked_at: Option<i64>,
    }
}

shared::stored_as_is! {
    /// A refresh token as stored.
    pub struct StoredToken for RefreshToken {
        #[serde(rename = "_id", alias = "token_hash")]
        token_hash: String,
        sid: String,
        user_id: String,
        created_at: i64,
        expires_at: i64,
        used_at: Option<i64>,
    }
}

/// The lookup key of an email: trimmed and ASCII-lower-cased, as SQLite's `lower()` does.
pub(super) fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}
