//! The auth service's internal API described by OpenAPI 3.1: whether a session is live, served at
//! `GET /internal/openapi.json` (internal token) and printed by `--openapi-internal`; never
//! exposed by the gateway.

// The schema types are never built or read: they only describe.
#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// Whether a session is live.
#[derive(ToSchema, Serialize)]
#[schema(as = SessionStatus)]
pub struct SessionStatusSchema {
    /// The session asked about.
    sid: String,
    /// True when it has ended, or was never opened by this service.
    revoked: bool,
}

shared::openapi_document! {
    internal:
    info(title = "Auth (internal)",
        description = "Session checks for the other services (a service without the shared \
                       session set asks here; answers may be cached for a second). Every call \
                       needs the internal token."),
    paths(super::super::health::session_status),
    tags((name = "sessions", description = "Login sessions."))
}
