//! The gateway's server: each connection starts in the gateway's own loop for proxied requests
//! (`lane`); what that loop does not serve moves the connection to hyper, whose `service_fn` sends
//! `/api/<svc>` requests down the proxy path and everything else to the axum router; graceful drain.

use crate::body::GatewayBody;
use crate::headers::Peer;
use crate::lane::{Connection, Ended, HEADER_READ_TIMEOUT};
use crate::proxy::Proxy;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use shared::shutdown::Draining;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Longest wait for in-flight requests once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The proxy and the local router, shared by every connection.
pub struct Gateway {
    /// The proxy path.
    pub proxy: Proxy,
    /// `/health`, `/ready`, `/api/dev/*` and the JSON 404.
    pub local: Router,
}

impl Gateway {
    async fn handle(&self, peer: &Peer, req: Request<Incoming>) -> Response<GatewayBody> {
        if let Some(route) = self.proxy.route(&req) {
            return self.proxy.forward(route, peer, req).await;
        }
        match self.local.clone().oneshot(req).await {
            Ok(res) => res.map(GatewayBody::Local),
            Err(never) => match never {},
        }
    }
}

/// Serves `gateway` on `listener` until `shutdown`, then marks `draining`, stops accepting and
/// lets in-flight requests finish (up to 30 s).
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    draining: Draining,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and similar: back off briefly, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let peer = Arc::new(gateway.proxy.peer(peer.ip()));
                let (gw, builder, watcher, shutdown) =
                    (gateway.clone(), builder.clone(), graceful.watcher(), shutdown.clone());
                connections.spawn(async move {
                    // Proxied requests in the gateway's own loop; anything else hands the
                    // connection to hyper for the rest of its life.
                    let ended = Connection::new(stream, gw.proxy.timeout)
                        .run(&gw.proxy, &peer, &shutdown)
                        .await;
                    let Ended::Handoff(rewind) = ended else {
                        return;
                    };
                    let service = service_fn(move |req| {
                        let (gw, peer) = (gw.clone(), peer.clone());
                        async move { Ok::<_, Infallible>(gw.handle(&peer, req).await) }
                    });
                    let conn = watcher.watch(builder.serve_connection(TokioIo::new(rewind), service));
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    draining.start();
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        graceful.shutdown().await;
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!("in-flight requests did not finish in time; closing them");
    }
    connections.shutdown().await;
    Ok(())
}
