//! The auth service's errors and how each becomes the shared JSON envelope.

use crate::app::password::HashError;
use shared::sessions::SessionError;
use shared::store::StoreError;
use shared::ApiError;

/// Everything a handler of this service can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Registration with an email that exists (case-insensitively).
    #[error("Email already registered")]
    EmailTaken,
    /// `role: "admin"` in a registration.
    #[error("Admin accounts cannot be created by registration")]
    AdminRegistrationForbidden,
    /// Unknown email or wrong password (deliberately indistinguishable).
    #[error("Invalid credentials")]
    InvalidCredentials,
    /// The password was right but the account is disabled.
    #[error("Account is disabled")]
    AccountDisabled,
    /// Unknown, expired or revoked refresh token.
    #[error("Invalid refresh token")]
    InvalidRefreshToken,
    /// An already-used refresh token was presented; its session was ended.
    #[error("Refresh token already used; the session has been ended")]
    RefreshTokenReused,
    /// `GET /verify` with a token that is not live.
    #[error("Invalid token")]
    InvalidToken,
    /// The access token's session has ended.
    #[error("Session expired")]
    SessionRevoked,
    /// No user with that id.
    #[error("User not found")]
    UserNotFound,
    /// An admin tried to disable or demote their own account.
    #[error("Admins cannot disable or demote their own account")]
    SelfModification,
    /// An error already in envelope form (validation, rate limit, extractor).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Password hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// The revocation backend failed.
    #[error(transparent)]
    Sessions(#[from] SessionError),
}

impl Error {
    /// A short outcome label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Error::EmailTaken => "email_taken",
            Error::AdminRegistrationForbidden => "admin_forbidden",
            Error::InvalidCredentials => "invalid_credentials",
            Error::AccountDisabled => "account_disabled",
            Error::InvalidRefreshToken => "invalid",
            Error::RefreshTokenReused => "reused",
            Error::InvalidToken | Error::SessionRevoked => "unauthorized",
            Error::UserNotFound => "not_found",
            Error::SelfModification => "self_modification",
            Error::Api(e) if e.status.as_u16() == 429 => "rate_limited",
            Error::Api(_) => "rejected",
            Error::Store(_) | Error::Hash(_) | Error::Sessions(_) => "error",
        }
    }
}

/// Counts `result` under `event` (success or the error's outcome) and passes it on.
pub fn counted<T>(
    metrics: &shared::metrics::Metrics,
    event: &'static str,
    result: Result<T, Error>,
) -> Result<T, Error> {
    metrics.incr(
        "auth_events_total",
        "Auth events (register, login, refresh, logout) by outcome.",
        &[
            ("event", event),
            (
                "outcome",
                result.as_ref().map_or_else(Error::outcome, |_| "success"),
            ),
        ],
    );
    result
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::EmailTaken => ApiError::conflict("email_taken", msg),
            Error::AdminRegistrationForbidden => ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "admin_registration_forbidden",
                msg,
            ),
            Error::InvalidCredentials => {
                tracing::warn!("login refused: invalid credentials");
                ApiError::unauthorized("invalid_credentials", msg)
            }
            Error::AccountDisabled => {
                ApiError::new(axum::http::StatusCode::FORBIDDEN, "account_disabled", msg)
            }
            Error::InvalidRefreshToken => ApiError::unauthorized("invalid_refresh_token", msg),
            Error::RefreshTokenReused => {
                tracing::warn!("refresh token reuse detected; session ended");
                ApiError::unauthorized("refresh_token_reused", msg)
            }
            Error::InvalidToken => ApiError::unauthorized("token_invalid", msg),
            Error::SessionRevoked => ApiError::unauthorized("session_revoked", msg),
            Error::UserNotFound => ApiError::not_found("user_not_found", msg),
            Error::SelfModification => ApiError::conflict("self_modification_forbidden", msg),
            Error::Api(e) => e,
            Error::Store(e) => e.into(),
            Error::Hash(e) => ApiError::internal_from(&e),
            Error::Sessions(e) => {
                tracing::error!(error = %e, "revocation backend failed");
                ApiError::unavailable("Session store unavailable")
            }
        }
    }
}

shared::respond_with_api_error!(Error);

#[cfg(test)]
mod tests;
