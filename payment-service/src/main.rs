//! payment-service binary: answers the container flags, or serves until SIGTERM or Ctrl-C
//! (`shared::binary`).

use shared::binary::Binary;
use shared::platform::Backends;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: payment_service::SERVICE,
        default_port: payment_service::config::DEFAULT_PORT,
        openapi: Some(payment_service::routes::openapi::api_doc),
        openapi_internal: Some(payment_service::routes::openapi::internal::api_doc),
    };
    binary
        .run(
            payment_service::Config::from_env,
            |config| &config.common,
            Backends::from_config,
            payment_service::build,
        )
        .await
}
