//! Answers given before the request body was read end their connection, and say so. hyper closes a
//! connection whose request body was left unread; without `Connection: close` on the answer, a
//! client that pools connections (the gateway) would send its next request on a connection that is
//! about to close, and fail. The layer watches whether the handler read the body to its end.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Watches `req`'s body: the returned watch marks the answer with `Connection: close` when the
/// handler did not read that body to its end (refused by an extractor, over its size limit, or
/// ignored). The standard layers' inner middleware uses it.
pub fn watch(req: Request) -> (Request, UnreadWatch) {
    if req.body().is_end_stream() {
        return (req, UnreadWatch(None));
    }
    let ended = Arc::new(AtomicBool::new(false));
    let req = req.map(|inner| {
        Body::new(Watched {
            inner,
            ended: ended.clone(),
        })
    });
    (req, UnreadWatch(Some(ended)))
}

/// Whether a watched request body was read to its end ([`watch`]).
pub struct UnreadWatch(Option<Arc<AtomicBool>>);

impl UnreadWatch {
    /// `res`, with `Connection: close` if the body was not read to its end.
    pub fn mark(self, mut res: Response) -> Response {
        if self.0.is_some_and(|ended| !ended.load(Ordering::Acquire)) {
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        res
    }
}

/// A request body that records when it has been read to its end.
struct Watched {
    inner: Body,
    ended: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::middleware::Next;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    fn app() -> Router {
        Router::new()
            .route(
                "/read",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route("/ignore", post(|| async { "ignored" }))
            .route(
                "/limited",
                post(|req: Request| async move {
                    axum::body::to_bytes(req.into_body(), 4)
                        .await
                        .is_ok()
                        .to_string()
                }),
            )
            .layer(axum::middleware::from_fn(|req, next: Next| async move {
                let (req, watch) = watch(req);
                watch.mark(next.run(req).await)
            }))
    }

    /// POSTs `chunks` as a streamed body (as a socket delivers it) and returns `Connection`.
    async fn connection(path: &str, chunks: &[&'static str]) -> Option<String> {
        let frames = chunks
            .iter()
            .map(|c| Ok::<_, std::io::Error>(Bytes::from_static(c.as_bytes())));
        #[allow(
            clippy::needless_collect,
            reason = "the stream outlives the borrowed chunks"
        )]
        let frames = frames.collect::<Vec<_>>();
        let body = Body::from_stream(futures_util::stream::iter(frames));
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .body(if chunks.is_empty() {
                Body::empty()
            } else {
                body
            })
            .unwrap();
        let res = app().oneshot(req).await.unwrap();
        res.headers()
            .get(header::CONNECTION)
            .map(|v| v.to_str().unwrap().to_string())
    }

    #[tokio::test]
    async fn an_unread_or_partly_read_body_ends_the_connection() {
        assert_eq!(connection("/read", &["hel", "lo"]).await, None);
        assert_eq!(connection("/ignore", &[]).await, None);
        assert_eq!(
            connection("/ignore", &["hello"]).await.as_deref(),
            Some("close")
        );
        let over_limit = connection("/limited", &["hello", " ", "world"]).await;
        assert_eq!(over_limit.as_deref(), Some("close"));
        assert_eq!(connection("/limited", &["h", "i"]).await, None);
    }
}
