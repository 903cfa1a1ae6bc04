//! product-service: the catalogue (public reads, admin writes, cached with generation
//! invalidation) and the stock reservations orders take and release (DESIGN §4.3).

pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod routes;
pub mod state;
pub mod store;

pub use config::Config;

use anyhow::Context;
use cache::ProductCache;
use shared::health::HealthView;
use shared::platform::{Backends, Common};
use shared::shutdown::Draining;
use state::AppState;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The service name in logs, `/health` and `/ready`.
pub const SERVICE_NAME: &str = "product-service";

/// A built service, ready to serve.
pub struct App {
    router: axum::Router,
    draining: Draining,
    health: HealthView,
}

impl App {
    /// The fully layered router (for oneshot tests).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` is cancelled; `/ready` answers 503 once shutdown
    /// starts while in-flight requests finish. The only background loop refreshes `/health`.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        shared::server::serve(
            listener,
            self.router,
            shutdown,
            self.draining,
            Some(self.health),
        )
        .await
        .context("serving product-service")
    }
}

/// Connects the store (runs migrations), builds state and router.
pub async fn build(config: Config, backends: Backends) -> anyhow::Result<App> {
    let store = store::connect(&config.database_url, config.common.mongo)
        .await
        .context("opening the product database")?;
    let metrics = shared::metrics::Metrics::new(SERVICE_NAME);
    let cache = ProductCache::new(backends.cache.clone(), metrics.clone());
    let common = Common::new(&config.common, backends).map_err(anyhow::Error::msg)?;
    let draining = common.draining.clone();
    let probed = store.clone();
    let health = HealthView::probed(config.common.health_refresh, move || {
        routes::health::report(probed.clone())
    })
    .await;
    let state = AppState::new(state::Parts {
        common,
        health: health.clone(),
        store,
        cache,
        metrics: metrics.clone(),
    });
    let track = axum::middleware::from_fn_with_state(metrics, shared::metrics::track);
    let router = shared::http::standard_layers(
        routes::routes().route_layer(track).with_state(state),
        &config.common.http_options(SERVICE_NAME),
    );
    Ok(App {
        router,
        draining,
        health,
    })
}
