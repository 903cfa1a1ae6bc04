//! Request extractors: the signed-in user (`AuthUser`), an admin (`RequireAdmin`), and a service
//! calling with the internal token (`InternalCaller`).

use super::{bearer_token, Authenticator, Claims, INTERNAL_TOKEN_HEADER};
use crate::error::ApiError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user's id.
    pub user_id: String,
    /// The user's role when the token was issued.
    pub role: String,
    /// All claims.
    pub claims: Claims,
}

impl AuthUser {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

impl<S: Sync> FromRequestParts<S> for AuthUser
where
    Authenticator: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)
            .ok_or_else(|| ApiError::unauthorized("token_missing", "Authentication required"))?;
        let claims = Authenticator::from_ref(state).authenticate(token).await?;
        tracing::Span::current().record("user.id", claims.user_id.as_str());
        Ok(AuthUser {
            user_id: claims.user_id.clone(),
            role: claims.role.clone(),
            claims,
        })
    }
}

/// An authenticated admin; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct RequireAdmin(pub AuthUser);

impl<S: Sync> FromRequestParts<S> for RequireAdmin
where
    AuthUser: FromRequestParts<S, Rejection = ApiError>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.is_admin() {
            Ok(RequireAdmin(user))
        } else {
            Err(ApiError::forbidden(
                "Access denied. Insufficient permissions.",
            ))
        }
    }
}

/// The shared secret services present to each other in `x-internal-token`.
#[derive(Clone)]
pub struct InternalToken(pub Arc<str>);

impl InternalToken {
    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        let a = self.0.as_bytes();
        let b = presented.as_bytes();
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }
}

/// A caller that presented the internal service token (other services, never clients).
pub struct InternalCaller;

impl<S: Sync> FromRequestParts<S> for InternalCaller
where
    InternalToken: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(INTERNAL_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if InternalToken::from_ref(state).matches(presented) {
            Ok(InternalCaller)
        } else {
            Err(ApiError::unauthorized(
                "internal_token_invalid",
                "Internal service token required",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_token_compares_exactly() {
        let t = InternalToken(Arc::from("abc"));
        assert!(t.matches("abc"));
        assert!(!t.matches("abd"));
        assert!(!t.matches("ab"));
    }
}
