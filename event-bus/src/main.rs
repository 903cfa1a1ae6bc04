//! event-bus binary: reads the environment, serves on `PORT` (4005) until SIGTERM or Ctrl-C.

use event_bus::{build, config::Config};
use shared::config::Env;
use shared::platform::Backends;
use tokio_util::sync::CancellationToken;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `--healthcheck`: probe the running service and exit (container health checks).
    shared::healthcheck::exit_if_requested(4005);
    shared::openapi::print_if_requested("--openapi-internal", event_bus::openapi::api_doc);
    let env = Env::from_process();
    shared::telemetry::init(env.get("LOG_FORMAT") == Some("json"));
    let config = Config::from_env(&env)?;
    let (host, port) = (config.common.host, config.common.port);
    let backends = Backends::from_config(&config.common)?;
    let app = build(config, backends).await?;
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    tracing::info!(port, "event-bus listening");
    let shutdown = CancellationToken::new();
    shared::shutdown::cancel_on_signal(shutdown.clone());
    app.run(listener, shutdown).await?;
    tracing::info!("event-bus stopped");
    Ok(())
}
