//! Typed JSON calls to other services over one pooled HTTP client: per-call timeout, the internal
//! token, and the current request's `x-request-id` forwarded automatically.

use crate::auth::INTERNAL_TOKEN_HEADER;
use crate::config::Secret;
use crate::error::ApiError;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connection refused or reset: the service is down.
    #[error("{0} unreachable: {1}")]
    Unavailable(&'static str, String),
    /// No answer within the timeout.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The service answered with a non-2xx status.
    #[error("{service} answered {status}")]
    Status {
        /// Which service.
        service: &'static str,
        /// Its status.
        status: StatusCode,
        /// Its JSON body (or null).
        body: Value,
    },
}

impl ClientError {
    /// The status, when the service answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (down, slow, or a 5xx/429 answer).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unavailable(..) | ClientError::Timeout(_) => true,
            ClientError::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// The error a client of ours should see: 503/504 for transport failures, the service's own
    /// 4xx envelope passed through, 503 when it is itself unavailable, 502 for its other 5xx.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            ClientError::Unavailable(name, _) => {
                ApiError::unavailable(format!("{name} service unavailable"))
            }
            ClientError::Timeout(name) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!("{name} service timed out"),
            ),
            ClientError::Status { status, body, .. } if status.is_client_error() => {
                let mut e = ApiError::new(
                    *status,
                    "upstream_rejected",
                    body["error"].as_str().unwrap_or("Request rejected"),
                );
                if let Some(code) = body["code"].as_str() {
                    e.code = leak_code(code);
                }
                e
            }
            ClientError::Status {
                service,
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..
            } => ApiError::unavailable(format!("{service} service unavailable")),
            ClientError::Status { service, .. } => {
                tracing::error!(error = %self, "upstream failure");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_error",
                    format!("{service} service failed"),
                )
            }
        }
    }
}

/// Error codes are a small fixed set; intern the ones other services send us.
fn leak_code(code: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static CODES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let Ok(mut guard) = CODES.lock() else {
        return "upstream_rejected";
    };
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(c) = set.get(code) {
        return c;
    }
    if set.len() > 256 || code.len() > 64 {
        return "upstream_rejected";
    }
    let leaked: &'static str = Box::leak(code.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

/// Builds the pooled HTTP client used for service-to-service calls.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// A client for one other service.
#[derive(Clone)]
pub struct ServiceClient {
    http: reqwest::Client,
    base_url: String,
    name: &'static str,
    internal_token: Option<Secret<String>>,
}

impl ServiceClient {
    /// A client for the service `name` (used in error messages: "Product service unavailable").
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        name: &'static str,
        internal_token: Option<Secret<String>>,
    ) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            name,
            internal_token,
        }
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn prepare(
        &self,
        rb: reqwest::RequestBuilder,
        bearer: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut rb = rb;
        if let Some(token) = &self.internal_token {
            rb = rb.header(INTERNAL_TOKEN_HEADER, token.expose());
        }
        if let Some(bearer) = bearer {
            rb = rb.bearer_auth(bearer);
        }
        if let Some(id) = crate::telemetry::current_request_id() {
            rb = rb.header("x-request-id", id);
        }
        rb
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let res = rb.send().await.map_err(|e| self.transport(e))?;
        let status = StatusCode::from_u16(res.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = res.bytes().await.map_err(|e| self.transport(e))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(ClientError::Status {
                service: self.name,
                status,
                body,
            })
        }
    }

    fn transport(&self, e: reqwest::Error) -> ClientError {
        if e.is_timeout() {
            ClientError::Timeout(self.name)
        } else {
            ClientError::Unavailable(self.name, e.to_string())
        }
    }

    /// GET `path`, optionally with a bearer token.
    pub async fn get_json(&self, path: &str, bearer: Option<&str>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base_url);
        self.send(self.prepare(self.http.get(url), bearer)).await
    }

    /// POST `body` as JSON to `path`.
    pub async fn post_json<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base_url);
        self.send(self.prepare(self.http.post(url).json(body), None))
            .await
    }

    /// POST `body` as JSON to `path` with a per-call timeout.
    pub async fn post_json_timeout<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base_url);
        self.send(self.prepare(self.http.post(url).json(body).timeout(timeout), None))
            .await
    }
}
