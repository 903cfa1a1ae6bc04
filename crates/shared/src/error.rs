//! The one JSON error envelope every service answers with (DESIGN 4.1), and the success envelopes.
//! Handlers return `Result<_, ApiError>`; nothing else produces error bodies.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

/// One bad field in a validation failure: `{"field": "items.0.quantity", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path of the field, array indices as numbers (`items.0.quantity`).
    pub field: String,
    /// Human message in the style of the original's Joi messages.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error response: status, stable snake_case code and a human message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`insufficient_stock`).
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Per-field problems (validation failures only).
    pub errors: Vec<FieldError>,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// A generic error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// 400 with a custom code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 `validation_failed` listing every bad field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Validation failed",
        );
        e.errors = errors;
        e
    }

    /// 400 `invalid_id` for a path id that is not a 24-hex ObjectId.
    pub fn invalid_id(what: &str) -> Self {
        Self::bad_request("invalid_id", format!("Invalid {what} id"))
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 with a custom code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 404 `route_not_found`, the answer to every unknown route.
    pub fn route_not_found() -> Self {
        Self::not_found("route_not_found", "Route not found")
    }

    /// 409 with a custom code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 503 `service_unavailable`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
    }

    /// 500 with a fixed, detail-free message. Log the cause where this is created.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong",
        )
    }

    /// Logs `cause` once and returns a detail-free 500.
    pub fn internal_from(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::internal()
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The JSON body this error renders to.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "success": false,
            "error": self.message,
            "code": self.code,
        });
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// Makes a service's error type an axum response through its `From<$error> for ApiError` mapping,
/// so every handler may return `Result<_, $error>` and answer with the shared envelope.
#[macro_export]
macro_rules! respond_with_api_error {
    ($error:ty) => {
        impl ::axum::response::IntoResponse for $error {
            fn into_response(self) -> ::axum::response::Response {
                ::axum::response::IntoResponse::into_response($crate::ApiError::from(self))
            }
        }
    };
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::debug!(
                status = self.status.as_u16(),
                code = self.code,
                "client error"
            );
        }
        let mut res = (self.status, Json(self.body())).into_response();
        for (name, value) in self.headers {
            res.headers_mut().insert(name, value);
        }
        res
    }
}

/// `{"success": true, "data": …}`, serialized straight from `data` (building it as a `Value` with
/// `json!` would copy the whole of `data` into a second tree first).
#[derive(Serialize)]
struct Envelope<T> {
    success: bool,
    data: T,
}

/// `{"success": true, "data": …}` with 200.
pub fn ok<T: Serialize>(data: T) -> Response {
    (
        StatusCode::OK,
        Json(Envelope {
            success: true,
            data,
        }),
    )
        .into_response()
}

/// The body [`ok`] sends, as bytes (for answers kept as bytes, e.g. cached ones).
pub fn ok_bytes<T: Serialize>(data: T) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        success: true,
        data,
    })
    .unwrap_or_default()
}

/// `{"success": true, "data": …}` with 201.
pub fn created<T: Serialize>(data: T) -> Response {
    (
        StatusCode::CREATED,
        Json(Envelope {
            success: true,
            data,
        }),
    )
        .into_response()
}

/// `{"success": true, "message": …}` with 200.
pub fn message(text: &str) -> Response {
    (
        StatusCode::OK,
        Json(json!({"success": true, "message": text})),
    )
        .into_response()
}

/// Page metadata of a list response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pagination {
    /// 1-based page number.
    pub page: u64,
    /// Page size.
    pub limit: u64,
    /// Total matching items.
    pub total: u64,
    /// Number of pages (`ceil(total / limit)`).
    pub pages: u64,
}

impl Pagination {
    /// Computes `pages` from the others.
    pub fn new(page: u64, limit: u64, total: u64) -> Self {
        let pages = if limit == 0 { 0 } else { total.div_ceil(limit) };
        Self {
            page,
            limit,
            total,
            pages,
        }
    }
}

/// `{"success": true, "data": [...], "pagination": {...}}` with 200.
pub fn paginated<T: Serialize>(data: Vec<T>, pagination: Pagination) -> Response {
    (StatusCode::OK, Json(paginated_body(data, pagination))).into_response()
}

/// The body [`paginated`] sends (for answers kept as bytes, e.g. cached ones).
pub fn paginated_body<T: Serialize>(data: Vec<T>, pagination: Pagination) -> Value {
    json!({"success": true, "data": data, "pagination": pagination})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_error_lists_every_field() {
        let e = ApiError::validation(vec![
            FieldError::new("name", "\"name\" is required"),
            FieldError::new("items.0.quantity", "bad"),
        ]);
        let body = e.body();
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["success"], false);
        assert_eq!(body["errors"][1]["field"], "items.0.quantity");
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let res =
            ApiError::unauthorized("token_missing", "Authentication required").into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    /// The envelope's bytes: `success` first, then `data` with its keys in the order given.
    #[tokio::test]
    async fn ok_and_created_wrap_data_in_the_success_envelope() {
        for (res, status) in [
            (ok(json!({"b": 1, "a": [2.5, null]})), StatusCode::OK),
            (
                created(json!({"b": 1, "a": [2.5, null]})),
                StatusCode::CREATED,
            ),
        ] {
            assert_eq!(res.status(), status);
            assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(res.into_body(), 1024)
                .await
                .unwrap_or_default();
            assert_eq!(
                &body[..],
                br#"{"success":true,"data":{"b":1,"a":[2.5,null]}}"#
            );
        }
    }

    #[test]
    fn pagination_rounds_pages_up() {
        assert_eq!(Pagination::new(1, 20, 41).pages, 3);
        assert_eq!(Pagination::new(1, 20, 0).pages, 0);
    }
}
