//! payment-service: charges each order once through a payment provider (retries within a budget,
//! one idempotency key per attempt), refunds, and announces outcomes through an outbox.

pub mod app;
pub mod clients;
pub mod config;
pub mod domain;
pub mod error;
pub mod routes;
pub mod state;
pub mod store;
pub mod workers;

use crate::app::{provider_policy, Processor};
use crate::clients::orders::OrdersClient;
use crate::state::AppState;
use anyhow::Context;
pub use clients::provider::{Charge, PaymentProvider, ProviderError, Refund, SimulatedProvider};
pub use config::Config;
pub use domain::PaymentMethod;
use routes::health::report;
pub use shared::app::App;
use shared::client::{http_client, ServiceClient};
use shared::events::OutboxRelay;
use shared::health::HealthView;
use shared::platform::{Backends, Common};
use shared::retry::Backoff;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The service name in logs, events and health answers.
pub const SERVICE: &str = "payment-service";

/// Connects the store (runs migrations), builds state and router, with the simulated provider
/// configured by `config`.
pub async fn build(config: Config, backends: Backends) -> anyhow::Result<App> {
    let provider = Arc::new(SimulatedProvider::new(config.simulation.clone()));
    build_with_provider(config, backends, provider).await
}

/// Like [`build`], charging through `provider` (tests inject one to count charges). Charges a
/// previous run left `processing` go back to `pending` here, before anything is served.
pub async fn build_with_provider(
    config: Config,
    backends: Backends,
    provider: Arc<dyn PaymentProvider>,
) -> anyhow::Result<App> {
    let store = store::connect_with(&config.database_url, config.common.mongo)
        .await
        .context("opening the payment database")?;
    let common = Common::new(&config.common, backends).map_err(anyhow::Error::msg)?;
    let http = http_client(Duration::from_secs(5));
    let token = Some(config.common.internal_token.clone());
    let orders = ServiceClient::new(
        http.clone(),
        &config.order_service_url,
        "Order",
        token.clone(),
    );
    let bus = ServiceClient::new(http, &config.event_bus_url, "Event bus", token);
    let relay_wake = Arc::new(Notify::new());
    let metrics = shared::metrics::Metrics::new(SERVICE, env!("CARGO_PKG_VERSION"));
    let processor = Arc::new(Processor {
        store: store.clone(),
        provider,
        policy: provider_policy(config.retry_budget, config.attempt_timeout),
        relay_wake: relay_wake.clone(),
        worker_wake: Arc::new(Notify::new()),
        metrics: metrics.clone(),
        stale_after: config.retry_budget + config.attempt_timeout + Duration::from_secs(30),
        refund_settled: Arc::default(),
    });
    // Wait for a charge while the request can still answer in time; else answer 202.
    let charge_wait = (config.retry_budget + Duration::from_millis(500)).min(
        config
            .common
            .request_timeout
            .saturating_sub(Duration::from_secs(1)),
    );
    let health = HealthView::probing(config.common.health_refresh, store.clone(), report).await;
    let state = AppState {
        common,
        health,
        store,
        processor,
        orders: OrdersClient(orders),
        tasks: TaskTracker::new(),
        cancel: CancellationToken::new(),
        charge_wait,
        metrics,
    };
    let router = routes::router(state.clone(), &config.common.http_options(SERVICE));
    let relay = OutboxRelay {
        store: state.store.outbox(),
        bus,
        wake: relay_wake,
        backoff: Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            factor: 2.0,
        },
        poll: Duration::from_secs(1),
    };
    let processor = state.processor.clone();
    let concurrency = config.concurrency;
    let draining = state.common.draining.clone();
    Ok(App::new(SERVICE, router, draining, state.health.clone())
        .worker("the payment worker", move |stop| {
            workers::payments::run(processor, concurrency, stop)
        })
        .worker("the outbox relay", |stop| relay.run(stop))
        // Charges and refunds that requests started: stopped with the server, then awaited.
        .worker("the request tasks", move |stop| async move {
            stop.cancelled().await;
            state.cancel.cancel();
            state.tasks.close();
            state.tasks.wait().await;
        }))
}
