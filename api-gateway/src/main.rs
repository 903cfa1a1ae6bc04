//! api-gateway binary: configuration from the environment, serve on `PORT` until SIGTERM/Ctrl-C.

use shared::config::Env;
use shared::platform::Backends;
use tokio_util::sync::CancellationToken;

/// mimalloc: the proxy path allocates and frees small buffers on every request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `--healthcheck`: probe the running service and exit (container health checks).
    shared::healthcheck::exit_if_requested(3000);
    let env = Env::from_process();
    shared::telemetry::init(env.get("LOG_FORMAT") == Some("json"));
    let config = api_gateway::Config::from_env(&env)?;
    let backends = Backends::from_config(&config.common)?;
    let (host, port) = (config.common.host, config.common.port);
    let app = api_gateway::build(config, backends).await?;
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    let shutdown = CancellationToken::new();
    shared::shutdown::cancel_on_signal(shutdown.clone());
    app.run(listener, shutdown).await
}
