//! order-service: places orders (stock reserved at the product service), tracks them through payment
//! and fulfilment, and publishes its events to the bus through a transactional outbox.

pub mod clients;
pub mod config;
pub mod domain;
pub mod routes;
pub mod service;
pub mod state;
pub mod store;
pub mod workers;

pub use config::Config;

use crate::clients::ProductsClient;
use crate::state::{AppState, SERVICE};
use crate::store::OrderStore;
use crate::workers::ReleaseWorker;
use anyhow::Context;
use shared::client::{http_client, ServiceClient};
use shared::events::OutboxRelay;
use shared::platform::{Backends, Common};
use shared::retry::Backoff;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Retry schedule of the outbox relay and the release worker.
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(10),
    factor: 2.0,
};

/// A built service, ready to serve.
pub struct App {
    router: axum::Router,
    state: AppState,
    bus: ServiceClient,
    poll: Duration,
}

impl App {
    /// The fully layered router (for oneshot tests).
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` is cancelled; the outbox relay and the release worker
    /// run on child tokens and are awaited before returning. `/ready` answers 503 while draining.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let workers = shutdown.child_token();
        let relay = OutboxRelay {
            store: self.state.store.outbox(),
            bus: self.bus,
            wake: self.state.outbox_wake.clone(),
            backoff: BACKOFF,
            poll: self.poll,
        };
        let releases = ReleaseWorker {
            store: self.state.store.clone(),
            products: self.state.products.clone(),
            wake: self.state.release_wake.clone(),
            backoff: BACKOFF,
            poll: self.poll,
        };
        let relay = tokio::spawn(relay.run(workers.clone()));
        let releases = tokio::spawn(releases.run(workers.clone()));
        let draining = self.state.common.draining.clone();
        let health = Some(self.state.health.clone());
        let served = shared::server::serve(listener, self.router, shutdown, draining, health).await;
        workers.cancel();
        let (r1, r2) = tokio::join!(relay, releases);
        r1.context("outbox relay panicked")?;
        r2.context("release worker panicked")?;
        served.context("server failed")
    }
}

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
    let probed = store.clone();
    let health = shared::health::HealthView::probed(config.common.health_refresh, move || {
        routes::health::report(probed.clone())
    })
    .await;
    let state = AppState {
        common,
        health,
        store,
        products: ProductsClient::new(products),
        outbox_wake: Default::default(),
        release_wake: Default::default(),
        metrics: shared::metrics::Metrics::new(SERVICE),
    };
    let router = shared::http::standard_layers(
        routes::router(state.clone()),
        &config.common.http_options(SERVICE),
    );
    Ok(App {
        router,
        state,
        bus,
        poll: config.outbox_poll,
    })
}
