//! order-service: places orders (stock reserved at the product service), tracks them through payment
//! and fulfilment, and publishes its events to the bus through a transactional outbox.

pub mod app;
pub mod clients;
pub mod config;
pub mod domain;
pub mod error;
pub mod routes;
pub mod state;
pub mod store;
pub mod workers;

pub use config::Config;
pub use shared::app::App;

use crate::clients::ProductsClient;
use crate::state::AppState;
use crate::store::OrderStore;
use crate::workers::ReleaseWorker;
use anyhow::Context;
use routes::health::report;
use shared::client::{http_client, ServiceClient};
use shared::events::OutboxRelay;
use shared::health::HealthView;
use shared::platform::{Backends, Common};
use shared::retry::Backoff;
use std::sync::Arc;
use std::time::Duration;

/// Retry schedule of the outbox relay and the release worker.
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(10),
    factor: 2.0,
};

/// Name used in logs, health answers and event sources.
pub const SERVICE: &str = "order-service";

/// Connects the store (runs migrations), builds state and router.
pub async fn build(config: Config, backends: Backends) -> anyhow::Result<App> {
    let store: Arc<dyn OrderStore> = store::connect(&config.database_url, config.common.mongo)
        .await
        .context("cannot open the order database")?;
    let common = Common::new(&config.common, backends).map_err(anyhow::Error::msg)?;
    let token = Some(config.common.internal_token.clone());
    let products = ServiceClient::new(
        http_client(config.product_timeout),
        &config.product_service_url,
        "Product",
        token.clone(),
    );
    let bus = ServiceClient::new(
        http_client(Duration::from_secs(5)),
        &config.event_bus_url,
        "Event bus",
        token,
    );
    let health = HealthView::probing(config.common.health_refresh, store.clone(), report).await;
    let state = AppState {
        common,
        health: health.clone(),
        store,
        products: ProductsClient::new(products),
        outbox_wake: Default::default(),
        release_wake: Default::default(),
        metrics: shared::metrics::Metrics::new(SERVICE, env!("CARGO_PKG_VERSION")),
    };
    let relay = OutboxRelay {
        store: state.store.outbox(),
        bus,
        wake: state.outbox_wake.clone(),
        backoff: BACKOFF,
        poll: config.outbox_poll,
    };
    let releases = ReleaseWorker {
        store: state.store.clone(),
        products: state.products.clone(),
        wake: state.release_wake.clone(),
        backoff: BACKOFF,
        poll: config.outbox_poll,
    };
    let draining = state.common.draining.clone();
    let router = routes::router(state, &config.common.http_options(SERVICE));
    Ok(App::new(SERVICE, router, draining, health)
        .worker("the outbox relay", |stop| relay.run(stop))
        .worker("the release worker", |stop| releases.run(stop)))
}
