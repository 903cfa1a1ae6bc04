//! order-service binary: reads the environment, builds the service and serves it until a signal.

use order_service::{build, Config};
use shared::config::Env;
use shared::platform::Backends;
use tokio_util::sync::CancellationToken;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `--healthcheck`: probe the running service and exit (container health checks).
    shared::healthcheck::exit_if_requested(4003);
    // `--openapi`: print the API's OpenAPI document and exit.
    shared::openapi::print_if_requested("--openapi", order_service::routes::openapi::api_doc);
    shared::openapi::print_if_requested(
        "--openapi-internal",
        order_service::routes::openapi::internal::api_doc,
    );
    let env = Env::from_process();
    shared::telemetry::init(env.get("LOG_FORMAT") == Some("json"));
    let config = Config::from_env(&env)?;
    let (host, port) = (config.common.host, config.common.port);
    let app = build(config.clone(), Backends::from_config(&config.common)?).await?;
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    tracing::info!(port, "order-service listening");
    let shutdown = CancellationToken::new();
    shared::shutdown::cancel_on_signal(shutdown.clone());
    app.run(listener, shutdown).await
}
