//! Access tokens (HS256 JWT, pinned algorithm, `exp`/`nbf`/`iss`/`aud` validated) and the check
//! that a token's session is live; the `AuthUser`, `RequireAdmin` and `InternalCaller` extractors
//! are in `extract`.

mod extract;

pub use extract::{AuthUser, InternalCaller, InternalToken, RequireAdmin};

use crate::error::ApiError;
use crate::sessions::{
    SessionAuthority, SessionError, SessionRegistry, SessionState, SESSION_SLACK, SESSION_TTL,
};
use axum::http::request::Parts;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

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

/// What the auth extractors need: keys, the shared session set, and whom to ask about a session
/// that set does not know.
#[derive(Clone)]
pub struct Authenticator {
    /// Token keys.
    pub keys: Arc<JwtKeys>,
    /// Live and ended sessions.
    pub sessions: Arc<dyn SessionRegistry>,
    /// Asked about sessions `sessions` does not know (the auth service); `None` refuses them.
    pub authority: Option<Arc<dyn SessionAuthority>>,
}

impl Authenticator {
    /// Issues an access token in session `sid` and records the session as live, so that every
    /// service accepts it. A session set that cannot be written is not fatal: the token's session
    /// is then confirmed with the authority on first use.
    pub async fn issue(&self, user_id: &str, role: &str, sid: &str) -> String {
        let (token, _) = self.keys.issue(user_id, role, sid);
        if let Err(e) = self.sessions.open_session(sid, SESSION_TTL).await {
            tracing::warn!(error = %e, "session not recorded; it will be confirmed on use");
        }
        token
    }

    /// Verifies a bearer token fully: signature, claims, and a live session.
    pub async fn authenticate(&self, token: &str) -> Result<Claims, ApiError> {
        let claims = self.keys.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::unauthorized("token_expired", "Token expired"),
            TokenError::Invalid => {
                ApiError::unauthorized("token_invalid", "Invalid authentication token")
            }
        })?;
        match self.session_state(&claims).await {
            Ok(SessionState::Live) => Ok(claims),
            Ok(_) => Err(ApiError::unauthorized("session_revoked", "Session expired")),
            Err(e) => {
                // Fail closed: without an answer the token is not accepted.
                tracing::warn!(error = %e, "session check failed");
                Err(ApiError::unavailable(
                    "Authentication temporarily unavailable",
                ))
            }
        }
    }

    /// The state of the token's session; an unknown one is asked of the authority, and recorded
    /// for the token's remaining life when live.
    async fn session_state(&self, claims: &Claims) -> Result<SessionState, SessionError> {
        let state = self.sessions.session_state(&claims.sid).await?;
        let (SessionState::Unknown, Some(authority)) = (state, &self.authority) else {
            return Ok(state);
        };
        if !authority.is_live(&claims.sid).await? {
            return Ok(SessionState::Ended);
        }
        let left = (claims.exp - chrono::Utc::now().timestamp()).max(0) as u64;
        let ttl = Duration::from_secs(left) + SESSION_SLACK;
        if let Err(e) = self.sessions.open_session(&claims.sid, ttl).await {
            tracing::warn!(error = %e, "confirmed session not recorded");
        }
        Ok(SessionState::Live)
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

    struct Authority(&'static [&'static str]);

    #[async_trait::async_trait]
    impl SessionAuthority for Authority {
        async fn is_live(&self, sid: &str) -> Result<bool, SessionError> {
            Ok(self.0.contains(&sid))
        }
    }

    fn authenticator(authority: Option<Arc<dyn SessionAuthority>>) -> Authenticator {
        Authenticator {
            keys: Arc::new(JwtKeys::new(SECRET, "i", "a")),
            sessions: Arc::new(crate::sessions::MemorySessions::default()),
            authority,
        }
    }

    #[tokio::test]
    async fn issued_sessions_are_accepted_until_revoked() {
        let auth = authenticator(None);
        let token = auth.issue("u", "user", "sess").await;
        assert!(auth.authenticate(&token).await.is_ok());
        auth.sessions
            .revoke_session("sess", Duration::from_secs(60))
            .await
            .unwrap();
        let err = auth.authenticate(&token).await.unwrap_err();
        assert_eq!(err.code, "session_revoked");
    }

    #[tokio::test]
    async fn a_validly_signed_token_of_an_unknown_session_is_refused() {
        let auth = authenticator(Some(Arc::new(Authority(&["known"]))));
        let (forged, _) = auth.keys.issue("u", "admin", "made-up");
        let err = auth.authenticate(&forged).await.unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (401, "session_revoked"));
        let without_authority = authenticator(None);
        let (forged, _) = without_authority.keys.issue("u", "admin", "made-up");
        assert_eq!(
            without_authority
                .authenticate(&forged)
                .await
                .unwrap_err()
                .status,
            401
        );
    }

    #[tokio::test]
    async fn a_session_the_set_forgot_is_confirmed_by_the_authority_and_remembered() {
        let auth = authenticator(Some(Arc::new(Authority(&["known"]))));
        let (token, _) = auth.keys.issue("u", "user", "known");
        assert!(auth.authenticate(&token).await.is_ok());
        assert_eq!(
            auth.sessions.session_state("known").await.unwrap(),
            SessionState::Live
        );
    }
}
