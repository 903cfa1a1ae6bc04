//! The auth API described by OpenAPI 3.1: registration, login, token refresh and logout, the
//! caller's profile, and the admins' user management, served at `GET /openapi.json` on the
//! service's own port and checked against the router and the wire by the tests
//! (`openapi/tests.rs`). The schema types describe; the wire parses.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use super::{auth, users};
use crate::domain::Role;
use serde::{Deserialize, Serialize};
use shared::openapi::ErrorAnswer;
use utoipa::{IntoResponses, ToSchema};

shared::object_id_param!(pub UserIdParam, "id", "The user's id (24 hex digits).");

/// A user as the API shows it (never the password hash).
#[derive(ToSchema, Serialize)]
#[schema(as = User)]
#[serde(rename_all = "camelCase")]
pub struct UserSchema {
    /// The user's id (24 hex digits).
    #[serde(rename = "_id")]
    #[schema(pattern = "^[0-9a-f]{24}$")]
    id: String,
    name: String,
    #[schema(format = Email)]
    email: String,
    role: RoleSchema,
    /// False once an admin disabled the account (its tokens stop working at once).
    is_active: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

shared::spelled_schema!(
    /// What a user may do.
    RoleSchema as "Role" = <Role as strum::VariantNames>::VARIANTS
);

/// A new session: the user and a token pair (answers are never cached: `Cache-Control: no-store`).
#[derive(ToSchema, Serialize)]
#[schema(as = Session)]
#[serde(rename_all = "camelCase")]
pub struct SessionSchema {
    user: UserSchema,
    /// Bearer token for the other APIs (15 minutes).
    access_token: String,
    /// One use only, for `POST /api/auth/refresh` (7 days).
    refresh_token: String,
}

/// A new token pair in the same session.
#[derive(ToSchema, Serialize)]
#[schema(as = TokenPair)]
#[serde(rename_all = "camelCase")]
pub struct TokenPairSchema {
    access_token: String,
    refresh_token: String,
}

/// Who a live access token belongs to.
#[derive(ToSchema, Serialize)]
#[schema(as = Verified)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedSchema {
    user_id: String,
    /// The same id, as the original answered it.
    #[serde(rename = "_id")]
    id: String,
    role: RoleSchema,
    email: String,
}

/// A registration. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = Registration,
    examples(json!({"name": "John Doe", "email": "john@example.com", "password": "password123"}))
)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSchema {
    #[schema(min_length = 2, max_length = 50)]
    name: String,
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// Kept as sent (not trimmed).
    #[schema(format = Password, min_length = 8, max_length = 128)]
    password: String,
    /// Only `user` (an admin is made by an admin); `admin` is 403.
    role: Option<RoleSchema>,
}

/// A login. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = Login,
    examples(json!({"email": "john@example.com", "password": "password123"}))
)]
#[serde(deny_unknown_fields)]
pub struct LoginSchema {
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(format = Password, min_length = 1, max_length = 128)]
    password: String,
}

/// A refresh. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(
    as = Refresh,
    examples(json!({"refreshToken": "<refreshToken>"}))
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshSchema {
    #[schema(format = Password, min_length = 1, max_length = 512)]
    refresh_token: String,
}

/// A logout: this session, or every session of the user. Unknown fields are refused.
#[derive(ToSchema, Deserialize)]
#[schema(as = Logout)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogoutSchema {
    /// The session's refresh token, ended with it.
    #[schema(min_length = 1, max_length = 512)]
    refresh_token: Option<String>,
    /// End every session of the user.
    all: Option<bool>,
}

/// The fields of an admin's change to a user (see [`UserChangeSchema`]).
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserFieldsSchema {
    #[schema(nullable = false)]
    role: Option<RoleSchema>,
    /// False disables the account and ends its sessions.
    #[schema(nullable = false)]
    is_active: Option<bool>,
}

shared::object_schema!(
    /// An admin's change to a user: at least one field.
    pub UserChangeSchema as "UserChange" = UserFieldsSchema,
    |fields| {
        fields.min_properties = Some(1);
        fields.description = Some(
            "An admin's change to a user: at least one field. Unknown fields are refused.".into(),
        );
        fields.examples = vec![serde_json::json!({"isActive": false})];
    }
);

/// The refusals of a body that does not parse.
#[derive(IntoResponses)]
pub enum BodyRefusals {
    /// `validation_failed` (every bad field listed) or `malformed_json`.
    #[response(status = 400)]
    Invalid(ErrorAnswer),
    /// `payload_too_large` (16 KiB).
    #[response(status = 413)]
    TooLarge(ErrorAnswer),
    /// `rate_limited`: too many attempts from this address (`Retry-After`).
    #[response(status = 429)]
    RateLimited(ErrorAnswer),
}

shared::openapi_document! {
    info(
        title = "Auth",
        description = "Accounts and sessions: register, log in, refresh, log out; the caller's \
                       profile; user management for admins.",
    ),
    paths(auth::register, auth::login, auth::refresh, auth::logout, auth::verify, auth::profile,
        users::list_users, users::patch_user),
    tags((name = "auth", description = "Accounts and sessions."))
}

pub mod internal;

#[cfg(test)]
mod tests;
