//! product-service: the catalogue (public reads, admin writes, cached with generation
//! invalidation) and the stock reservations orders take and release (DESIGN §4.3).

pub mod app;
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
use routes::health::report;
pub use shared::app::App;
use shared::health::HealthView;
use shared::platform::{Backends, Common};
use state::AppState;

/// The service name in logs, `/health` and `/ready`.
pub const SERVICE: &str = "product-service";

/// Connects the store (runs migrations), builds state and router.
pub async fn build(config: Config, backends: Backends) -> anyhow::Result<App> {
    let store = store::connect(&config.database_url, config.common.mongo)
        .await
        .context("opening the product database")?;
    let metrics = shared::metrics::Metrics::new(SERVICE, env!("CARGO_PKG_VERSION"));
    let cache = ProductCache::new(backends.cache.clone(), metrics.clone());
    let common = Common::new(&config.common, backends).map_err(anyhow::Error::msg)?;
    let draining = common.draining.clone();
    let health = HealthView::probing(config.common.health_refresh, store.clone(), report).await;
    let state = AppState::new(state::Parts {
        common,
        health: health.clone(),
        store,
        cache,
        metrics,
    });
    let router = routes::router(state, &config.common.http_options(SERVICE));
    Ok(App::new(SERVICE, router, draining, health))
}
