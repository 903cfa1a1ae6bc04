//! Developer tools (only with `DEV_TOOLS=true`): encrypt a JSON payload into the `{"encrypted"}`
//! form the services accept, and decrypt one back. Off in production: they are an oracle (D-12).

use super::docs::dev_tools::{
    DecryptAnswerSchema, DevToolRefusals, EncryptAnswerSchema, EncryptRequestSchema,
    EncryptedSchema,
};
use super::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use shared::extract::{read_json, BodyLimits};
use shared::json::parse_bounded;
use shared::ApiError;

/// How the client should use the encrypted string (the original's text).
pub const USAGE: &str = "Send this encrypted string as { \"encrypted\": \"...\" } in request body";

fn failed(code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

/// `POST /api/dev/encrypt` `{payload, legacy?}` → `{success, encrypted, usage}`.
#[utoipa::path(
    post,
    path = "/api/dev/encrypt",
    tag = "developer tools",
    request_body = EncryptRequestSchema,
    responses(
        (status = 200, description = "The payload, encrypted.", body = EncryptAnswerSchema),
        DevToolRefusals,
    )
)]
pub async fn encrypt(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let body = read_json(req, None, BodyLimits::DEFAULT).await.ok();
    let encrypted = body
        .and_then(|body| encrypted(&state, &body))
        .ok_or_else(|| failed("encryption_failed", "Encryption failed"))?;
    Ok(Json(json!({"success": true, "encrypted": encrypted, "usage": USAGE})).into_response())
}

/// The body's `payload` encrypted (in the original's format with `legacy: true`); `None` for a body
/// the original refuses.
fn encrypted(state: &AppState, body: &Value) -> Option<String> {
    let payload = body.get("payload")?;
    let legacy = match body.get("legacy") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return None,
    };
    let plaintext = serde_json::to_vec(payload).ok()?;
    Some(if legacy {
        state.cipher.encrypt_legacy(&plaintext)
    } else {
        state.cipher.encrypt(&plaintext)
    })
}

/// `POST /api/dev/decrypt` `{encrypted}` → `{success, decrypted}`.
#[utoipa::path(
    post,
    path = "/api/dev/decrypt",
    tag = "developer tools",
    request_body = EncryptedSchema,
    responses(
        (status = 200, description = "The payload, decrypted.", body = DecryptAnswerSchema),
        DevToolRefusals,
    )
)]
pub async fn decrypt(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let body = read_json(req, None, BodyLimits::DEFAULT).await.ok();
    let decrypted = body
        .and_then(|body| decrypted(&state, &body))
        .ok_or_else(|| failed("decryption_failed", "Decryption failed"))?;
    Ok(Json(json!({"success": true, "decrypted": decrypted})).into_response())
}

/// The body's `encrypted` string decrypted and parsed as JSON (within the usual body limits);
/// `None` for a body the original refuses or a payload that does not decrypt.
fn decrypted(state: &AppState, body: &Value) -> Option<Value> {
    let encrypted = body.get("encrypted")?.as_str()?;
    let plain = state.cipher.decrypt(encrypted).ok()?;
    parse_bounded(&plain, BodyLimits::DEFAULT).ok()
}
