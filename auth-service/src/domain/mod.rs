//! Users, sessions and refresh tokens as the service reasons about them (no HTTP, JSON or SQL
//! here).

use strum::{EnumString, IntoStaticStr, VariantNames};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// A shopper.
    User,
    /// An administrator.
    Admin,
}

shared::spelled!(Role);

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// ObjectId hex.
    pub id: String,
    /// Display name (trimmed, 2–50 characters).
    pub name: String,
    /// Email, lower-cased and trimmed; unique.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Disabled users cannot log in or refresh.
    pub is_active: bool,
    /// UTC milliseconds.
    pub created_at: i64,
    /// UTC milliseconds.
    pub updated_at: i64,
}

/// Changes an admin may make to a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// New role.
    pub role: Option<Role>,
    /// New active flag.
    pub is_active: Option<bool>,
}

/// A login session: the family of refresh tokens issued from one login or registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id (carried as `sid` in access tokens).
    pub sid: String,
    /// Owner.
    pub user_id: String,
    /// UTC milliseconds.
    pub created_at: i64,
    /// When it was ended, if it was.
    pub revoked_at: Option<i64>,
}

/// A refresh token as stored: only its HMAC, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Hex HMAC-SHA256 of the token under `JWT_REFRESH_SECRET`.
    pub token_hash: String,
    /// The session it belongs to.
    pub sid: String,
    /// Owner.
    pub user_id: String,
    /// UTC milliseconds.
    pub created_at: i64,
    /// UTC milliseconds after which it is refused.
    pub expires_at: i64,
    /// When it was exchanged for a new one; presenting it again is reuse.
    pub used_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse(Role::User.as_str()), Some(Role::User));
        assert_eq!(Role::parse("root"), None);
    }
}
