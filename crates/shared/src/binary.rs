//! A service's binary, the same for every service: the flags it answers and exits on
//! (`--healthcheck`, `--openapi`, `--openapi-internal`), then the environment, the logs, the
//! configuration, the backends, the build, the listener, and serving until SIGTERM or Ctrl-C.

use crate::app::App;
use crate::config::{ConfigError, Env};
use crate::platform::{Backends, CommonConfig};
use std::future::Future;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// An OpenAPI document, built once.
pub type Document = fn() -> &'static utoipa::openapi::OpenApi;

/// What a binary serves once built: an [`App`], or a service with its own server (the gateway).
pub trait Serve {
    /// Serves on `listener` until `shutdown` is cancelled, then stops everything it started.
    fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

impl Serve for App {
    fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send {
        self.run(listener, shutdown)
    }
}

/// A service's binary: what `main` says about its service.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The service's name (`SERVICE`), in its log lines.
    pub name: &'static str,
    /// The port it listens on when `PORT` is unset, which `--healthcheck` probes too.
    pub default_port: u16,
    /// The document `--openapi` prints: the public API's, if the service has one.
    pub openapi: Option<Document>,
    /// The document `--openapi-internal` prints: the internal API's, if the service has one.
    pub openapi_internal: Option<Document>,
}

impl Binary {
    /// Runs the binary. `--healthcheck` probes the running service and exits 0 when it is healthy;
    /// `--openapi` and `--openapi-internal` print their document and exit. Otherwise: logs as
    /// `LOG_FORMAT` says, reads the configuration with `read` (every bad key named), opens the
    /// `backends` its `common` part names, builds the service, binds `HOST:PORT` and serves until
    /// SIGTERM or Ctrl-C, then returns once everything it started has stopped.
    pub async fn run<C, E, A, Built>(
        self,
        read: fn(&Env) -> Result<C, ConfigError>,
        common: fn(&C) -> &CommonConfig,
        backends: fn(&CommonConfig) -> Result<Backends, E>,
        build: impl FnOnce(C, Backends) -> Built,
    ) -> anyhow::Result<()>
    where
        E: std::error::Error + Send + Sync + 'static,
        A: Serve,
        Built: Future<Output = anyhow::Result<A>>,
    {
        crate::healthcheck::exit_if_requested(self.default_port);
        let documents = [
            ("--openapi", self.openapi),
            ("--openapi-internal", self.openapi_internal),
        ];
        for (flag, document) in documents {
            if let Some(document) = document {
                crate::openapi::print_if_requested(flag, document);
            }
        }
        let env = Env::from_process();
        crate::telemetry::init(env.get("LOG_FORMAT") == Some("json"));
        let config = read(&env)?;
        let common = common(&config);
        let (host, port, backends) = (common.host, common.port, backends(common)?);
        let app = build(config, backends).await?;
        let listener = TcpListener::bind((host, port)).await?;
        tracing::info!(service = self.name, addr = %listener.local_addr()?, "listening");
        let shutdown = CancellationToken::new();
        crate::shutdown::cancel_on_signal(shutdown.clone());
        app.serve(listener, shutdown).await?;
        tracing::info!(service = self.name, "stopped");
        Ok(())
    }
}
