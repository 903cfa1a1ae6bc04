//! The gateway's server: accepts connections and runs each through the one pipeline
//! (`codec::serve_connection` with a `Pipeline`), until shutdown; then stops accepting, lets
//! in-flight requests finish (idle connections close at once, busy ones after their answer) and
//! waits for them up to 30 s.

use crate::codec::serve_connection;
use crate::pipeline::Pipeline;
use crate::proxy::Proxy;
use axum::Router;
use shared::shutdown::Draining;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Longest wait for in-flight requests once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The proxy and the local router, shared by every connection.
pub struct Gateway {
    /// Routes, admission and upstreams of proxied requests.
    pub proxy: Proxy,
    /// `/health`, `/ready`, `/metrics`, `/api/dev/*` and the JSON 404.
    pub local: Router,
}

/// Serves `gateway` on `listener` until `shutdown`, then marks `draining`, goes on serving for
/// its delay (`/ready` answering 503), stops accepting and lets in-flight requests finish (up to
/// 30 s).
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    draining: Draining,
) -> std::io::Result<()> {
    let mut connections = JoinSet::new();
    // Fires once draining has begun and its delay has passed: then accepting stops and open
    // keep-alive connections end after their current request.
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        draining.begin(&shutdown).await;
        stopping.cancel();
    });
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
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
                let (gateway, stop) = (gateway.clone(), stop.clone());
                connections.spawn(async move {
                    let peer = gateway.proxy.peer(peer.ip());
                    let mut pipeline = Pipeline::new(&gateway.proxy, &gateway.local, peer);
                    serve_connection(stream, &mut pipeline, &stop).await;
                });
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!("in-flight requests did not finish in time; closing them");
    }
    connections.shutdown().await;
    Ok(())
}
