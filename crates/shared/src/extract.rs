//! Request extractors that answer in the JSON envelope: JSON bodies (content type, size and shape
//! limits per request type, optional decryption of `{"encrypted": …}`, validation), ObjectId path
//! parameters and query maps.

use crate::error::ApiError;
use crate::json::parse_bounded;
pub use crate::json::BodyLimits;
use crate::payload::PayloadCipher;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::{header, request::Parts, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Largest accepted request body by default (1 MiB).
pub const MAX_BODY_BYTES: usize = BodyLimits::DEFAULT.max_bytes;

/// Turns a parsed JSON value into a validated request type.
pub trait FromJson: Sized {
    /// How large a body of this type may be (bytes, values, nesting), checked before and while it
    /// is parsed.
    const LIMITS: BodyLimits = BodyLimits::DEFAULT;

    /// Validates `value`, reporting every bad field.
    fn from_json(value: &Value) -> Result<Self, ApiError>;
}

/// Whether (and with what key) `{"encrypted": …}` bodies are decrypted before validation.
#[derive(Clone, Default)]
pub struct BodyDecryption(pub Option<Arc<PayloadCipher>>);

/// A JSON body, decrypted when it is `{"encrypted": "…"}`, validated into `T`.
/// An empty body reads as `{}` so that required fields are reported by validation.
pub struct JsonBody<T>(pub T);

/// The error every decryption failure becomes.
pub fn invalid_payload() -> ApiError {
    ApiError::bad_request("invalid_payload", "Invalid encrypted payload")
}

/// Reads and parses a JSON body within `limits`, decrypting it when a cipher is given. Over
/// `max_bytes` is 413; past the value or depth limits a 400 names the field (no large tree is
/// ever built).
pub async fn read_json(
    req: Request,
    cipher: Option<&PayloadCipher>,
    limits: BodyLimits,
) -> Result<Value, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    let bytes = axum::body::to_bytes(req.into_body(), limits.max_bytes)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("Request body exceeds {} bytes", limits.max_bytes),
            )
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let is_json = content_type.as_deref().is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence == "application/json" || essence.ends_with("+json")
    });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ));
    }
    let value = parse_bounded(&bytes, limits)?;
    match (cipher, value.get("encrypted")) {
        (Some(cipher), Some(enc)) => {
            let enc = enc.as_str().ok_or_else(invalid_payload)?;
            let plain = cipher.decrypt(enc).map_err(|_| invalid_payload())?;
            parse_bounded(&plain, limits).map_err(|e| match e.code {
                "validation_failed" => e,
                _ => invalid_payload(),
            })
        }
        _ => Ok(value),
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    BodyDecryption: FromRef<S>,
    T: FromJson,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let decryption = BodyDecryption::from_ref(state);
        let value = read_json(req, decryption.0.as_deref(), T::LIMITS).await?;
        T::from_json(&value).map(JsonBody)
    }
}

/// A single `:id` path parameter that must be a 24-hex ObjectId (400 `invalid_id` otherwise).
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::invalid_id("resource"))?;
        if crate::ids::is_object_id(&id) {
            Ok(IdPath(id.to_ascii_lowercase()))
        } else {
            Err(ApiError::invalid_id("resource"))
        }
    }
}

/// The query string as a map (last value wins); never rejects with plain text.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(query)
            .ok_or_else(|| ApiError::bad_request("invalid_query", "Malformed query string"))?;
        Ok(QueryMap(pairs.into_iter().collect()))
    }
}

fn serde_urlencoded_pairs(query: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push((percent_decode(k)?, percent_decode(v)?));
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::MacPolicy;
    use axum::body::Body;

    fn req(ct: Option<&str>, body: &str) -> Request {
        let mut b = axum::http::Request::builder().method("POST").uri("/");
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body.to_string())).unwrap()
    }

    #[tokio::test]
    async fn rejects_non_json_and_malformed_bodies() {
        let e = read_json(req(Some("text/plain"), "{}"), None, BodyLimits::DEFAULT)
            .await
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e = read_json(
            req(Some("application/json"), "{bad"),
            None,
            BodyLimits::DEFAULT,
        )
        .await
        .unwrap_err();
        assert_eq!(e.code, "malformed_json");
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        let e = read_json(
            req(Some("application/json"), &big),
            None,
            BodyLimits::DEFAULT,
        )
        .await
        .unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn empty_body_reads_as_empty_object() {
        let v = read_json(req(None, ""), None, BodyLimits::DEFAULT)
            .await
            .unwrap();
        assert_eq!(v, serde_json::json!({}));
    }

    /// A JSON body read with the payload cipher `c`.
    async fn read_sealed(c: &PayloadCipher, body: &str) -> Result<Value, ApiError> {
        read_json(
            req(Some("application/json"), body),
            Some(c),
            BodyLimits::DEFAULT,
        )
        .await
    }

    #[tokio::test]
    async fn decrypts_encrypted_bodies_and_rejects_bad_ones() {
        let c =
            PayloadCipher::new("12345678901234567890123456789012", MacPolicy::Optional).unwrap();
        let enc = c.encrypt(br#"{"a":1}"#);
        let body = serde_json::json!({ "encrypted": enc }).to_string();
        let v = read_sealed(&c, &body).await.unwrap();
        assert_eq!(v, serde_json::json!({"a": 1}));
        let bad = r#"{"encrypted":"00:11"}"#;
        let e = read_sealed(&c, bad).await.unwrap_err();
        assert_eq!(e.code, "invalid_payload");
        assert_eq!(e.message, "Invalid encrypted payload");
    }

    #[tokio::test]
    async fn numbers_in_encrypted_bodies_survive_exactly() {
        let c =
            PayloadCipher::new("12345678901234567890123456789012", MacPolicy::Optional).unwrap();
        let plain = r#"{"x":0.9259398872314291,"y":1e-7,"z":12345678901234567}"#;
        let body = serde_json::json!({ "encrypted": c.encrypt(plain.as_bytes()) }).to_string();
        let v = read_sealed(&c, &body).await.unwrap();
        assert_eq!(v["x"].as_f64(), Some(0.925_939_887_231_429_1));
        assert_eq!(
            v.to_string(),
            r#"{"x":0.9259398872314291,"y":1e-7,"z":12345678901234567}"#
        );
    }

    #[test]
    fn query_strings_are_percent_decoded() {
        let p = serde_urlencoded_pairs("search=a%20b+c&x=").unwrap();
        assert_eq!(p[0], ("search".into(), "a b c".into()));
        assert_eq!(p[1], ("x".into(), "".into()));
        assert!(serde_urlencoded_pairs("a=%zz").is_none());
    }
}
