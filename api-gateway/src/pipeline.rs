//! The one pipeline every request on a client connection takes, whatever it carries: the codec
//! (`codec::serve_connection`) parses each head, and this decides. A CORS preflight to a proxied
//! path is answered here; a proxied path is admitted (`Proxy::admit`: bearer pre-check, rate
//! limits, breaker), forwarded with its body streamed (`Content-Length` or chunked, after a
//! `100 Continue` when asked for) and answered from the upstream's bytes (`relay`); the gateway's
//! own routes go to axum (`local`). Every answer's headers come from `policy`.

use crate::codec::Transport;
use crate::codec::{BodyFraming, ClientConn, Exchange, HeadError, RequestHead};
use crate::policy::down::{error_answer, Context};
use crate::policy::{self, Peer};
use crate::proxy::{Proxy, Route};
use crate::upstream::{Answer, PoolError, RequestBody};
use axum::Router;
use bytes::{Buf, Bytes};
use hyper::Method;
use shared::rate_limit::RateDecision;
use shared::ApiError;
use std::future::Future;
use std::io;
use std::pin::Pin;
// tokio's clock: the same as the system's, and paused with it in tests.
use tokio::time::{Instant, Sleep};

/// One client connection's side of the gateway: what it needs across its requests.
pub struct Pipeline<'g> {
    pub(crate) proxy: &'g Proxy,
    pub(crate) local: &'g Router,
    pub(crate) peer: Peer,
    /// The upstream request head being written (reused across requests).
    head_up: Vec<u8>,
    /// The upstream timeout's timer, re-armed lazily (see [`within`]).
    timer: Pin<Box<Sleep>>,
}

impl<'g> Pipeline<'g> {
    /// The pipeline of a connection from `peer`.
    pub fn new(proxy: &'g Proxy, local: &'g Router, peer: Peer) -> Self {
        Self {
            timer: Box::pin(tokio::time::sleep(proxy.timeout)),
            proxy,
            local,
            peer,
            head_up: Vec::with_capacity(1024),
        }
    }
}

/// A request as the pipeline serves it: its parsed head and the head's bytes.
pub(crate) struct Req {
    pub(crate) head: RequestHead,
    pub(crate) raw: Bytes,
    pub(crate) request_id: Bytes,
    pub(crate) closing: bool,
}

impl Req {
    pub(crate) fn header<'a>(&'a self, name: &'a str) -> Option<&'a [u8]> {
        self.head.header(&self.raw, name)
    }

    /// The per-answer context of the gateway's headers (`close`: the connection ends after it).
    pub(crate) fn context<'a>(
        &'a self,
        proxy: &'a Proxy,
        rate: Option<(&'a shared::rate_limit::RuleHeaders, &'a RateDecision)>,
        close: bool,
    ) -> Context<'a> {
        Context {
            request_id: &self.request_id,
            origin: self.header("origin"),
            cors: &proxy.cors,
            rate,
            close,
            keep_alive_10: self.head.minor == 0 && !close,
        }
    }
}

impl<S: Transport> Exchange<S> for Pipeline<'_> {
    async fn serve(
        &mut self,
        conn: &mut ClientConn<S>,
        head: RequestHead,
        closing: bool,
    ) -> io::Result<bool> {
        let raw = conn.buf.split_to(head.len).freeze();
        let request_id = policy::request_id(&raw, head.header(&raw, "x-request-id"));
        let req = Req {
            head,
            raw,
            request_id,
            closing,
        };
        let path = req.head.path(&req.raw);
        let proxy = self.proxy;
        let Some(route) = proxy.proxied_route(&req.head.method, path) else {
            return crate::local::serve(self, conn, req).await;
        };
        if req.head.is_preflight(&req.raw) {
            let close = closing || !conn.skip_body(req.head.body);
            proxy.cors.preflight(
                &mut conn.out,
                req.header("origin"),
                req.header("access-control-request-headers"),
                &req.request_id,
                close,
            );
            conn.flush_out().await?;
            return Ok(!close);
        }
        self.proxied(conn, &req, path, route).await
    }

    async fn refuse(&mut self, conn: &mut ClientConn<S>, e: HeadError) -> io::Result<()> {
        let request_id = policy::fresh_request_id();
        let error = ApiError::new(e.status, e.code, e.reason);
        let ctx = Context {
            request_id: &request_id,
            origin: None,
            cors: &self.proxy.cors,
            rate: None,
            close: true,
            keep_alive_10: false,
        };
        error_answer(&mut conn.out, &error, e.head, &ctx);
        self.proxy
            .record_refused(e.status.as_u16(), e.code, &request_id);
        conn.flush_out().await
    }
}

impl Pipeline<'_> {
    /// Proxies one request to `route` and answers it.
    async fn proxied<S: Transport>(
        &mut self,
        conn: &mut ClientConn<S>,
        req: &Req,
        path: &str,
        route: &Route,
    ) -> io::Result<bool> {
        let started = Instant::now();
        let proxy = self.proxy;
        let (head, raw) = (&req.head, &req.raw);
        let authorization = req
            .header("authorization")
            .and_then(|v| std::str::from_utf8(v).ok());
        let admitted = proxy
            .admit(
                route,
                &self.peer,
                &head.method,
                path,
                authorization,
                head.all(raw, "x-forwarded-for"),
            )
            .await;
        // On errors: whether the request body is left (partly) unread on the connection.
        let outcome = match admitted {
            Ok((decision, ticket)) => {
                let (sent, unread) = self.forward(conn, req, route, started).await?;
                proxy
                    .upstream_outcome(route, ticket, sent)
                    .map(|answer| (answer, decision))
                    .map_err(|e| (e, unread))
            }
            // Refused before forwarding: a body already in hand is skipped.
            Err(e) => Err((e, !conn.skip_body(head.body))),
        };
        let (status, again) = match outcome {
            Ok((answer, decision)) => {
                let status = answer.status;
                let rule = decision.as_ref().map(|d| proxy.rule_headers(d));
                let rate = rule.as_deref().zip(decision.as_ref());
                (
                    status,
                    crate::relay::relay(conn, proxy, req, answer, rate).await?,
                )
            }
            Err((e, unread)) => {
                let close = req.closing || unread;
                let ctx = req.context(proxy, None, close);
                error_answer(&mut conn.out, &e, head.method == Method::HEAD, &ctx);
                conn.flush_out().await?;
                (e.status, !close)
            }
        };
        let elapsed = started.elapsed().as_secs_f64();
        proxy.record(
            head.method.as_str(),
            route,
            path,
            status.as_u16(),
            elapsed,
            &req.request_id,
        );
        Ok(again)
    }

    /// Writes the upstream request head and sends it with its body: the upstream's answer
    /// (`None`: none within the upstream timeout), and whether the client's body was left (partly)
    /// unread.
    async fn forward<S: Transport>(
        &mut self,
        conn: &mut ClientConn<S>,
        req: &Req,
        route: &Route,
        started: Instant,
    ) -> io::Result<(Option<Result<Answer, PoolError>>, bool)> {
        let head = &req.head;
        policy::up::request_head(
            &mut self.head_up,
            head,
            &req.raw,
            &route.host,
            &self.peer,
            &req.request_id,
        );
        let deadline = started + self.proxy.timeout;
        if let BodyFraming::Length(n) = head.body {
            if conn.buf.len() as u64 >= n {
                // The whole body came with the head: one write, no streaming.
                self.head_up.extend_from_slice(&conn.buf[..n as usize]);
                conn.buf.advance(n as usize);
                let sent =
                    route
                        .pool
                        .exchange(&head.method, &self.head_up, RequestBody::None, false);
                return Ok((within(&mut self.timer, deadline, sent).await, false));
            }
        }
        if head.body == BodyFraming::None {
            let sent = route
                .pool
                .exchange(&head.method, &self.head_up, RequestBody::None, true);
            return Ok((within(&mut self.timer, deadline, sent).await, false));
        }
        conn.go_on(head).await?;
        let mut body = conn.body(head.body);
        let streamed = match head.body {
            BodyFraming::Length(n) => RequestBody::Length(n, &mut body),
            _ => RequestBody::Chunked(&mut body),
        };
        let sent = route
            .pool
            .exchange(&head.method, &self.head_up, streamed, false);
        let sent = within(&mut self.timer, deadline, sent).await;
        Ok((sent, !body.is_done()))
    }
}

/// Runs `fut` until `deadline`; `None` if it has not finished by then. `timer` is one long-lived
/// timer per connection whose deadline never lies after the current one (deadlines only move
/// forward): when it fires early it is re-armed, so a request that ends in time touches no timer.
pub(crate) async fn within<F: Future>(
    timer: &mut Pin<Box<Sleep>>,
    deadline: Instant,
    fut: F,
) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return Some(out),
            _ = timer.as_mut() => {
                if Instant::now() >= deadline {
                    return None;
                }
                timer.as_mut().reset(deadline);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn within_waits_for_the_real_deadline_when_its_timer_fires_early() {
        let start = Instant::now();
        let mut timer = Box::pin(tokio::time::sleep(Duration::from_secs(1)));
        // Finishes after the timer's first firing but before the deadline.
        let late = tokio::time::sleep(Duration::from_secs(2));
        let deadline = start + Duration::from_secs(3);
        assert_eq!(within(&mut timer, deadline, late).await, Some(()));
        // Never finishes: gives up at the deadline, not at the timer's first firing.
        let never = std::future::pending::<()>();
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(within(&mut timer, deadline, never).await, None);
        assert!(Instant::now() >= deadline);
        assert!(Instant::now() < deadline + Duration::from_millis(10));
    }
}
