//! The gateway's part of the merged document: the developer tools (`/api/dev/*`, present only
//! with `DEV_TOOLS=true`) and the encrypted form every JSON request body may take instead. The
//! schema types describe; `routes/dev.rs` parses.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use serde_json::Value;
use shared::openapi::ErrorAnswer;
use utoipa::{IntoResponses, OpenApi, ToSchema};

/// An encrypted body of the documented shape (IV, two blocks, MAC), the document's example and
/// what the README's `<iv>:<ct>:<mac>` stands for in its tests.
pub(crate) const ENCRYPTED_EXAMPLE: &str = "fa1809219ebbba4b7a1b752515a8fb03:0617ce59fe5c316942540be8e0828961c5db8702fb16f056d17be94673b34679:629ceeef88054815be83877163b41f6b3e214b01ee94f11e1bf9e1f64e1699da";

/// Any JSON request body to auth, products, orders or payments, encrypted: AES-256-CBC under
/// `ENCRYPTION_KEY`, written `hex(iv):hex(ciphertext):hex(mac)` (the MAC is HMAC-SHA256; the
/// original's form without it is accepted unless `PAYLOAD_MAC=required`). The decrypted JSON
/// replaces the body before validation.
#[derive(ToSchema)]
#[schema(
    as = Encrypted,
    examples(json!({"encrypted": ENCRYPTED_EXAMPLE}))
)]
pub struct EncryptedSchema {
    /// The encrypted body: a 16-byte IV, a ciphertext of whole 16-byte blocks and, in the current
    /// form, a 32-byte MAC, each in hex.
    #[schema(pattern = r"^[0-9a-fA-F]{32}:(?:[0-9a-fA-F]{32})+(?::[0-9a-fA-F]{64})?$")]
    encrypted: String,
}

/// What to encrypt.
#[derive(ToSchema)]
#[schema(
    as = EncryptRequest,
    examples(json!({"payload": {"email": "john@example.com", "password": "password123"}}))
)]
pub struct EncryptRequestSchema {
    /// Any JSON value: the body to encrypt.
    payload: Value,
    /// True for the original's form without a MAC.
    legacy: Option<bool>,
}

/// The encrypted body, in the original's answer shape (no `data`).
#[derive(ToSchema)]
#[schema(as = EncryptAnswer)]
pub struct EncryptAnswerSchema {
    /// Always true.
    success: bool,
    /// Send it as `{"encrypted": "…"}`.
    encrypted: String,
    /// The original's hint.
    usage: String,
}

/// The decrypted body, in the original's answer shape (no `data`).
#[derive(ToSchema)]
#[schema(as = DecryptAnswer)]
pub struct DecryptAnswerSchema {
    /// Always true.
    success: bool,
    /// The JSON that was encrypted.
    decrypted: Value,
}

/// The refusals of a developer tool.
#[derive(IntoResponses)]
pub enum DevToolRefusals {
    /// `encryption_failed` / `decryption_failed`: not JSON, no `payload`, or not a valid
    /// encrypted string under this key.
    #[response(status = 400)]
    Failed(ErrorAnswer),
    /// `route_not_found`: the developer tools are off (`DEV_TOOLS=false`, as in production).
    #[response(status = 404)]
    Off(ErrorAnswer),
}

/// The gateway's own operations.
#[derive(OpenApi)]
#[openapi(
    paths(super::super::dev::encrypt, super::super::dev::decrypt),
    components(schemas(EncryptedSchema)),
    tags((name = "developer tools", description = "Only with `DEV_TOOLS=true`: they are an \
        oracle for the payload key, so production leaves them off."))
)]
pub struct GatewayDoc;
