//! api-gateway: the single entry point on :3000. Proxies `/api/{auth,products,orders,payments}` to
//! the services (streaming, pooled upstream connections), with rate limits, a JWT pre-check, a
//! circuit breaker per upstream, security headers and CORS; serves `/health`, `/ready`, `/metrics`
//! and the optional developer tools itself.
//!
//! Every request on a connection takes one pipeline:
//! - `codec`: HTTP/1.1 on the wire, knowing nothing of the gateway (heads, chunked bodies, the
//!   keep-alive loop, lingering close);
//! - `pipeline`: what each parsed request becomes (preflight, proxied, or local), with `relay`
//!   (an upstream's answer to the client) and `local` (the gateway's own routes, on axum);
//! - `policy`: the gateway's header rules, each written once (upstream request, answers, CORS,
//!   error envelopes);
//! - `proxy`: routes, admission (bearer pre-check, rate limits, breaker), failure statuses,
//!   metrics and logs (labelled by `labels`); `upstream`: connection pools, exchanges, answer
//!   bodies, breakers;
//! - `server`: accept loop and drain.

pub mod codec;
pub mod config;
pub mod health;
pub mod labels;
pub mod limits;
pub mod local;
pub mod net;
pub mod pipeline;
pub mod policy;
pub mod proxy;
pub mod relay;
pub mod routes;
pub mod server;
pub mod upstream;

pub use config::Config;

use anyhow::Context;
use shared::health::HealthView;
use shared::payload::PayloadCipher;
use shared::platform::{Backends, Common};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service name in logs, metrics, `/health` and `/ready`.
pub const SERVICE: &str = "api-gateway";

/// A built gateway, ready to serve.
pub struct App {
    gateway: Arc<server::Gateway>,
    common: Common,
    health: HealthView,
}

impl App {
    /// The local (non-proxied) routes with the standard layers: `/health`, `/ready`, `/api/dev/*`
    /// and the JSON 404. The proxy itself is served only by [`App::run`].
    pub fn router(&self) -> axum::Router {
        self.gateway.local.clone()
    }

    /// Serves everything on `listener` until `shutdown` is cancelled; `/ready` answers 503 from then
    /// on while in-flight requests finish.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let refresh = shutdown.child_token();
        let refresher = tokio::spawn(self.health.run(refresh.clone()));
        let served = server::serve(
            listener,
            self.gateway,
            shutdown,
            self.common.draining.clone(),
        )
        .await;
        refresh.cancel();
        refresher.await.context("the health refresh panicked")?;
        served.context("serving the gateway")
    }
}

impl shared::binary::Serve for App {
    fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send {
        self.run(listener, shutdown)
    }
}

/// Builds the proxy, its upstream pool and the local router.
pub async fn build(config: Config, backends: Backends) -> anyhow::Result<App> {
    let common = Common::new(&config.common, backends).map_err(anyhow::Error::msg)?;
    let cipher = PayloadCipher::new(
        config.common.encryption_key.expose(),
        config.common.payload_mac,
    )
    .map_err(anyhow::Error::msg)?;
    let metrics = shared::metrics::Metrics::new(SERVICE, env!("CARGO_PKG_VERSION"));
    let proxy = proxy::Proxy::new(&config, common.clone(), metrics.clone());
    let names = ["auth", "products", "orders", "payments"];
    let breakers: Arc<[_]> = names.into_iter().zip(proxy.breakers()).collect();
    let mut targets: Vec<(&'static str, String, bool)> = names
        .into_iter()
        .zip(config.upstreams())
        .map(|(name, up)| (name, up.url.clone(), true))
        .collect();
    targets.push(("eventBus", config.event_bus_url.clone(), false));
    let upstreams = Arc::new(health::Upstreams::new(targets, breakers.clone()));
    let view = health_view(&config, &upstreams, common.backends.redis.clone());
    let state = routes::AppState {
        common: common.clone(),
        upstreams,
        health: view.clone(),
        cipher: Arc::new(cipher),
        metrics,
        breakers,
    };
    let local = routes::router(
        state,
        config.dev_tools,
        &config.common.http_options(SERVICE),
    );
    Ok(App {
        gateway: Arc::new(server::Gateway { proxy, local }),
        common,
        health: view,
    })
}

/// The gateway's `/health`: every upstream checked at once and Redis pinged, in the background
/// every `HEALTH_REFRESH_MS`; everything counts as down until the first check.
fn health_view(
    config: &Config,
    upstreams: &Arc<health::Upstreams>,
    redis: Option<shared::redis::RedisHealth>,
) -> HealthView {
    let initial = upstreams.report(if redis.is_some() {
        "down"
    } else {
        "not configured"
    });
    let upstreams = upstreams.clone();
    HealthView::new(config.common.health_refresh, &initial, move || {
        let (upstreams, redis) = (upstreams.clone(), redis.clone());
        async move {
            let redis_state = async {
                match &redis {
                    Some(r) => r.status().await,
                    None => "not configured",
                }
            };
            let ((), redis_state) = tokio::join!(upstreams.check(), redis_state);
            upstreams.report(redis_state)
        }
    })
}
