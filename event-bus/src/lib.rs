//! The event bus: stores events from services durably, then fans them out in the background to the
//! configured subscribers with retries, dead-lettering and replay.

pub mod config;
pub mod delivery;
pub mod domain;
mod routes;
pub mod state;
pub mod store;

use config::Config;
use delivery::{DeliverySettings, Inboxes, Worker};
use shared::platform::{Backends, Common};
use shared::retry::Backoff;
use state::AppState;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A built event bus: state, router and the delivery workers to start.
pub struct App {
    state: AppState,
    config: Config,
    settings: DeliverySettings,
}

impl App {
    /// The fully layered router (for oneshot tests).
    pub fn router(&self) -> axum::Router {
        let track = axum::middleware::from_fn_with_state(
            self.state.metrics.clone(),
            shared::metrics::track,
        );
        let router = routes::routes().layer(track).with_state(self.state.clone());
        shared::http::standard_layers(router, &self.config.common.http_options("event-bus"))
    }

    /// Serves on `listener` until `shutdown` is cancelled. One delivery worker per subscriber runs
    /// on a child token; all are awaited before returning. `/ready` answers 503 once shutdown starts.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let workers = TaskTracker::new();
        // Cancelled with `shutdown`, or alone if serving fails (never cancel the caller's token:
        // the launcher may share it between services).
        let stop_workers = shutdown.child_token();
        let settings = self.settings.clone();
        let http = shared::client::http_client(self.config.delivery_timeout);
        for sub in self.config.subscribers.iter().cloned() {
            let worker = Worker::new(
                sub,
                self.state.store.clone(),
                settings.clone(),
                http.clone(),
                &self.state.inboxes,
                self.state.metrics.clone(),
            );
            workers.spawn(worker.run(stop_workers.clone()));
        }
        workers.close();
        let router = self.router();
        let draining = self.state.common.draining.clone();
        let health = Some(self.state.health.clone());
        let served = shared::server::serve(listener, router, shutdown, draining, health).await;
        stop_workers.cancel();
        workers.wait().await;
        served?;
        Ok(())
    }
}

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
    let probed = store.clone();
    let health = shared::health::HealthView::probed(config.common.health_refresh, move || {
        routes::health::report(probed.clone())
    })
    .await;
    let state = AppState {
        common,
        health,
        store,
        inboxes: Inboxes::new(&config.subscribers, &settings),
        metrics: shared::metrics::Metrics::new("event-bus"),
    };
    Ok(App {
        state,
        config,
        settings,
    })
}
