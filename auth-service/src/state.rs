//! The state every handler shares, and the `LiveUser`/`LiveAdmin` extractors: an access token that is
//! valid and whose session is still live in this service's own database (which survives restarts,
//! unlike the in-process revocation set).

use crate::app::password::Passwords;
use crate::app::tokens::RefreshTokens;
use crate::error::Error;
use crate::store::UserStore;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::auth::AuthUser;
use shared::metrics::Metrics;
use shared::platform::Common;
use shared::rate_limit::RateRule;
use shared::ApiError;
use std::sync::Arc;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// Keys, sessions, body decryption, internal token, backends.
    pub common: Common,
    /// The `/health` answer, refreshed in the background.
    pub health: shared::health::HealthView,
    /// Users, sessions, refresh tokens.
    pub store: Arc<dyn UserStore>,
    /// Password hashing.
    pub passwords: Passwords,
    /// Refresh-token generation and hashing.
    pub refresh: RefreshTokens,
    /// Login/register attempts per email.
    pub auth_rate: RateRule,
    /// Refresh-token lifetime in milliseconds.
    pub refresh_ttl_ms: i64,
    /// Request and business metrics.
    pub metrics: Metrics,
}

impl axum::extract::FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}

shared::impl_common_from_ref!(AppState, common);

/// An authenticated caller whose session is live in the database.
pub struct LiveUser(pub AuthUser);

impl FromRequestParts<AppState> for LiveUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let live = state
            .store
            .find_session(&user.claims.sid)
            .await
            .map_err(Error::from)?
            .is_some_and(|s| s.revoked_at.is_none() && s.user_id == user.user_id);
        if live {
            Ok(LiveUser(user))
        } else {
            Err(Error::SessionRevoked.into())
        }
    }
}

/// A `LiveUser` who is an admin; anyone else gets 403.
pub struct LiveAdmin(pub AuthUser);

impl FromRequestParts<AppState> for LiveAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let LiveUser(user) = LiveUser::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(LiveAdmin(user))
        } else {
            Err(ApiError::forbidden(
                "Access denied. Insufficient permissions.",
            ))
        }
    }
}

shared::impl_operations!(AppState, crate::SERVICE);
