//! The event bus: stores events from services durably, then fans them out in the background to the
//! configured subscribers with retries, dead-lettering and replay.

pub mod app;
pub mod clients;
pub mod config;
pub mod domain;
pub mod error;
mod routes;
/// The event API's OpenAPI document (`GET /internal/openapi.json`, `--openapi-internal`).
pub use routes::openapi;
pub mod state;
pub mod store;
pub mod workers;

pub use config::Config;
use routes::health::report;
pub use shared::app::App;
use shared::health::HealthView;
use shared::platform::{Backends, Common};
use shared::retry::Backoff;
use state::AppState;
use workers::{DeliverySettings, Inboxes, Worker};

/// The service name in logs, `/health` and `/ready`.
pub const SERVICE: &str = "event-bus";

/// The delivery settings `config` gives.
fn delivery_settings(config: &Config) -> DeliverySettings {
    DeliverySettings {
        max_attempts: config.max_attempts,
        backoff: Backoff {
            initial: config.backoff_initial,
            max: config.backoff_max,
            factor: 2.0,
        },
        timeout: config.delivery_timeout,
        internal_token: config.common.internal_token.clone(),
        concurrency: config.delivery_concurrency,
    }
}

/// Connects the store (runs migrations), builds state and router.
pub async fn build(config: Config, backends: Backends) -> anyhow::Result<App> {
    let store = store::connect(&config.database_url, config.common.mongo).await?;
    let settings = delivery_settings(&config);
    let common = Common::new(&config.common, backends).map_err(anyhow::Error::msg)?;
    let health = HealthView::probing(config.common.health_refresh, store.clone(), report).await;
    let state = AppState {
        common,
        health: health.clone(),
        store,
        inboxes: Inboxes::new(&config.subscribers, &settings),
        metrics: shared::metrics::Metrics::new(SERVICE, env!("CARGO_PKG_VERSION")),
    };
    let router = routes::router(state.clone(), &config.common.http_options(SERVICE));
    let mut app = App::new(SERVICE, router, state.common.draining.clone(), health);
    // One delivery worker per subscriber.
    let http = shared::client::http_client(config.delivery_timeout);
    for sub in config.subscribers.iter().cloned() {
        let worker = Worker::new(
            sub,
            state.store.clone(),
            settings.clone(),
            http.clone(),
            &state.inboxes,
            state.metrics.clone(),
        );
        app = app.worker("a delivery worker", |stop| worker.run(stop));
    }
    Ok(app)
}
