//! The gateway's own routes (`/health`, `/ready`, `/metrics`, the developer tools, the JSON 404 and
//! the CORS preflights to them), served by the axum router as a tower service on the same
//! connection: the parsed head becomes an `http::Request` with the body read whole (bounded), and
//! the router's answer is written back by the codec. No proxied request comes here.

use crate::codec::write::{bodiless, AnswerFraming};
use crate::codec::Transport;
use crate::codec::{BodyFraming, ClientConn};
use crate::pipeline::{Pipeline, Req};
use crate::policy::down::{error_answer, invalid_body, local_head};
use http_body_util::BodyExt;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Uri, Version};
use shared::ApiError;
use std::io;
use tower::ServiceExt;

/// Most request body bytes read for a local route; one more makes the route's own reader answer
/// 413 (the rest is not read, and the connection ends after the answer).
const MAX_LOCAL_BODY: usize = shared::extract::MAX_BODY_BYTES;

/// Serves `req` with the local router; whether the connection may carry another request.
pub(crate) async fn serve<S: Transport>(
    pipeline: &mut Pipeline<'_>,
    conn: &mut ClientConn<S>,
    req: Req,
) -> io::Result<bool> {
    let head = &req.head;
    let (body, whole) = if head.body == BodyFraming::None {
        (bytes::Bytes::new(), true)
    } else {
        conn.go_on(head).await?;
        match conn.read_body(head.body, MAX_LOCAL_BODY).await {
            Ok(read) => read,
            Err(e) => {
                tracing::info!(error = %e, "request body broken off or malformed");
                return refuse(pipeline, conn, &req, invalid_body()).await;
            }
        }
    };
    let close = req.closing || !whole;
    let Some(request) = request(&req, body) else {
        let e = ApiError::bad_request("bad_request", "The request head is malformed");
        return refuse(pipeline, conn, &req, e).await;
    };
    let response = match pipeline.local.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            tracing::warn!(error = %e, "a local route's body failed");
            return Err(io::Error::other("local body failed"));
        }
    };
    let no_body = bodiless(&head.method, parts.status);
    let framing = if no_body && parts.headers.contains_key(hyper::header::CONTENT_LENGTH) {
        AnswerFraming::AsIs // HEAD: the length the GET would have, as the router set it
    } else {
        AnswerFraming::Length(body.len() as u64)
    };
    let keep_alive_10 = head.minor == 0 && !close;
    local_head(&mut conn.out, &parts, framing, close, keep_alive_10);
    if !no_body {
        conn.out.extend_from_slice(&body);
    }
    conn.flush_out().await?;
    Ok(!close)
}

/// Answers `e` and ends the connection (what follows on it cannot be trusted).
async fn refuse<S: Transport>(
    pipeline: &Pipeline<'_>,
    conn: &mut ClientConn<S>,
    req: &Req,
    e: ApiError,
) -> io::Result<bool> {
    let ctx = req.context(pipeline.proxy, None, true);
    error_answer(&mut conn.out, &e, false, &ctx);
    conn.flush_out().await?;
    Ok(false)
}

/// The `http::Request` axum gets: method, target, version, headers, and the body read whole.
/// `None` when a header does not make an `http` header (never for what `httparse` accepted, but
/// checked rather than assumed).
fn request(req: &Req, body: bytes::Bytes) -> Option<Request<axum::body::Body>> {
    let head = &req.head;
    let uri = Uri::from_maybe_shared(req.raw.slice(head.target.0..head.target.1)).ok()?;
    let mut request = Request::new(axum::body::Body::from(body));
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = if head.minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let headers = request.headers_mut();
    for (name, value) in crate::codec::head::headers(&req.raw, &head.spans) {
        let name = HeaderName::from_bytes(name).ok()?;
        let value = HeaderValue::from_maybe_shared(req.raw.slice_ref(value)).ok()?;
        headers.append(name, value);
    }
    Some(request)
}
