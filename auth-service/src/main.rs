//! auth-service binary: logging, configuration, bind, serve until SIGTERM/Ctrl-C.

use shared::config::Env;
use shared::platform::Backends;
use tokio_util::sync::CancellationToken;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `--healthcheck`: probe the running service and exit (container health checks).
    shared::healthcheck::exit_if_requested(4001);
    // `--openapi`: print the API's OpenAPI document and exit.
    shared::openapi::print_if_requested("--openapi", auth_service::openapi::api_doc);
    shared::openapi::print_if_requested(
        "--openapi-internal",
        auth_service::openapi::internal::api_doc,
    );
    let env = Env::from_process();
    shared::telemetry::init(env.get("LOG_FORMAT") == Some("json"));
    let config = auth_service::Config::from_env(&env)?;
    let (host, port) = (config.common.host, config.common.port);
    // Without Redis the auth service keeps revocations itself (others ask it); with Redis all share.
    let backends = match config.common.redis_url {
        Some(_) => Backends::from_config(&config.common)?,
        None => Backends::in_process(),
    };
    let app = auth_service::build(config, backends).await?;
    let listener = tokio::net::TcpListener::bind((host, port)).await?;
    tracing::info!(port, "auth-service listening");
    let shutdown = CancellationToken::new();
    shared::shutdown::cancel_on_signal(shutdown.clone());
    app.run(listener, shutdown).await
}
