//! Access tokens (HS256 JWT, pinned algorithm, `exp`/`nbf`/`iss`/`aud` validated), the `AuthUser`,
//! `RequireAdmin` and `InternalCaller` extractors, and session revocation shared by every service.

use crate::error::ApiError;
use async_trait::async_trait;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Access-token lifetime (the original's 15 minutes).
pub const ACCESS_TOKEN_TTL_SECS: i64 = 900;
/// Header that carries the internal service token between services.
pub const INTERNAL_TOKEN_HEADER: &str = "x-internal-token";

/// Claims of an access token. `userId` and `role` keep the original's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's ObjectId.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// `user` or `admin`.
    pub role: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Session (refresh-token family) this token belongs to.
    pub sid: String,
}

/// Signing and verification keys with the pinned validation rules.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// `exp` has passed.
    Expired,
    /// Bad signature, algorithm, issuer, audience, `nbf` or shape.
    Invalid,
}

impl JwtKeys {
    /// Keys from `JWT_SECRET` (at least 32 bytes; checked by config) and the issuer/audience.
    pub fn new(secret: &str, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 5;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "iat"]);
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// Issues an access token for `user_id` in session `sid`.
    pub fn issue(&self, user_id: &str, role: &str, sid: &str) -> (String, Claims) {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            user_id: user_id.to_string(),
            role: role.to_string(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TOKEN_TTL_SECS,
            jti: crate::ids::random_token(16),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sid: sid.to_string(),
        };
        let token = match encode(&Header::new(Algorithm::HS256), &claims, &self.encoding) {
            Ok(t) => t,
            // HS256 with an in-memory key and plain claims cannot fail to encode.
            Err(e) => unreachable!("encoding an HS256 token failed: {e}"),
        };
        (token, claims)
    }

    /// Verifies a token's signature and registered claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// A revocation backend could not answer.
#[derive(Debug, thiserror::Error)]
#[error("revocation store unavailable: {0}")]
pub struct RevocationError(pub String);

/// The set of ended sessions. Every service checks it on every authenticated request.
#[async_trait]
pub trait Revocations: Send + Sync {
    /// Marks session `sid` as ended for `ttl` (the longest time a token of it can still be valid).
    async fn revoke_session(&self, sid: &str, ttl: Duration) -> Result<(), RevocationError>;
    /// Whether session `sid` has been ended.
    async fn is_session_revoked(&self, sid: &str) -> Result<bool, RevocationError>;
}

/// In-process revocations: shared by all services when they run in one process.
#[derive(Default)]
pub struct MemoryRevocations {
    ended: Mutex<HashMap<String, Instant>>,
}

#[async_trait]
impl Revocations for MemoryRevocations {
    async fn revoke_session(&self, sid: &str, ttl: Duration) -> Result<(), RevocationError> {
        let now = Instant::now();
        let mut ended = self
            .ended
            .lock()
            .map_err(|_| RevocationError("lock poisoned".into()))?;
        ended.retain(|_, until| *until > now);
        ended.insert(sid.to_string(), now + ttl);
        Ok(())
    }

    async fn is_session_revoked(&self, sid: &str) -> Result<bool, RevocationError> {
        let ended = self
            .ended
            .lock()
            .map_err(|_| RevocationError("lock poisoned".into()))?;
        Ok(ended.get(sid).is_some_and(|until| *until > Instant::now()))
    }
}

/// Revocations asked of the auth service (`GET /internal/sessions/:sid`), each answer kept 1 s.
/// Used by a service that runs alone without Redis, so that a logout is seen within a second.
pub struct RemoteRevocations {
    client: crate::client::ServiceClient,
    cache: moka::future::Cache<String, bool>,
}

impl RemoteRevocations {
    /// Asks the auth service through `client`.
    pub fn new(client: crate::client::ServiceClient) -> Self {
        Self {
            client,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(1))
                .build(),
        }
    }
}

#[async_trait]
impl Revocations for RemoteRevocations {
    async fn revoke_session(&self, _sid: &str, _ttl: Duration) -> Result<(), RevocationError> {
        Err(RevocationError(
            "sessions are revoked by the auth service".into(),
        ))
    }

    async fn is_session_revoked(&self, sid: &str) -> Result<bool, RevocationError> {
        if let Some(hit) = self.cache.get(sid).await {
            return Ok(hit);
        }
        let v: serde_json::Value = self
            .client
            .get_json(&format!("/internal/sessions/{sid}"), None)
            .await
            .map_err(|e| RevocationError(e.to_string()))?;
        let revoked = v["data"]["revoked"].as_bool().unwrap_or(true);
        self.cache.insert(sid.to_string(), revoked).await;
        Ok(revoked)
    }
}

/// What the auth extractors need: keys and the revocation set.
#[derive(Clone)]
pub struct Authenticator {
    /// Token keys.
    pub keys: Arc<JwtKeys>,
    /// Ended sessions.
    pub revocations: Arc<dyn Revocations>,
}

impl Authenticator {
    /// Verifies a bearer token fully: signature, claims and revocation.
    pub async fn authenticate(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = self.keys.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::unauthorized("token_expired", "Token expired"),
            TokenError::Invalid => {
                ApiError::unauthorized("token_invalid", "Invalid authentication token")
            }
        })?;
        match self.revocations.is_session_revoked(&claims.sid).await {
            Ok(false) => Ok(claims),
            Ok(true) => Err(ApiError::unauthorized("session_revoked", "Session expired")),
            Err(e) => {
                // Fail closed: without an answer the token is not accepted.
                tracing::warn!(error = %e, "revocation check failed");
                Err(ApiError::unavailable(
                    "Authentication temporarily unavailable",
                ))
            }
        }
    }
}

/// The bearer token of a request, if any (scheme matched case-insensitively).
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    bearer_from_value(value)
}

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_from_value(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

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

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
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

impl<S> FromRequestParts<S> for RequireAdmin
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
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

impl<S> FromRequestParts<S> for InternalCaller
where
    S: Send + Sync,
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

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify_and_carry_the_original_claims() {
        let keys = JwtKeys::new(SECRET, "ecommerce-auth", "ecommerce");
        let (token, claims) = keys.issue("64b7f0c2a1b2c3d4e5f60718", "user", "sid1");
        let back = keys.verify(&token).unwrap();
        assert_eq!(back, claims);
        assert_eq!(back.exp - back.iat, 900);
        let payload = token.split('.').nth(1).unwrap();
        let json = String::from_utf8(base64_decode(payload)).unwrap();
        assert!(json.contains("\"userId\""));
    }

    fn base64_decode(s: &str) -> Vec<u8> {
        // Minimal URL-safe base64 decoding for the test.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.bytes() {
            let v = alphabet.iter().position(|&a| a == c).unwrap() as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        out
    }

    #[test]
    fn wrong_secret_issuer_audience_and_alg_none_are_refused() {
        let keys = JwtKeys::new(SECRET, "ecommerce-auth", "ecommerce");
        let other = JwtKeys::new(
            "another-secret-another-secret-12",
            "ecommerce-auth",
            "ecommerce",
        );
        let (token, _) = other.issue("u", "user", "s");
        assert_eq!(keys.verify(&token), Err(TokenError::Invalid));
        let wrong_aud = JwtKeys::new(SECRET, "ecommerce-auth", "elsewhere");
        let (token, _) = wrong_aud.issue("u", "user", "s");
        assert_eq!(keys.verify(&token), Err(TokenError::Invalid));
        let (token, _) = keys.issue("u", "admin", "s");
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[0] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let forged = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(keys.verify(&forged), Err(TokenError::Invalid));
    }

    #[tokio::test]
    async fn revoked_sessions_are_refused() {
        let keys = Arc::new(JwtKeys::new(SECRET, "i", "a"));
        let revocations: Arc<dyn Revocations> = Arc::new(MemoryRevocations::default());
        let auth = Authenticator {
            keys: keys.clone(),
            revocations: revocations.clone(),
        };
        let (token, _) = keys.issue("u", "user", "sess");
        assert!(auth.authenticate(&token).await.is_ok());
        revocations
            .revoke_session("sess", Duration::from_secs(60))
            .await
            .unwrap();
        let err = auth.authenticate(&token).await.unwrap_err();
        assert_eq!(err.code, "session_revoked");
    }

    #[test]
    fn internal_token_compares_exactly() {
        let t = InternalToken(Arc::from("abc"));
        assert!(t.matches("abc"));
        assert!(!t.matches("abd"));
        assert!(!t.matches("ab"));
    }
}
