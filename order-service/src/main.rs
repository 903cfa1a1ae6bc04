//! order-service binary: answers the container flags, or serves until SIGTERM or Ctrl-C
//! (`shared::binary`).

use shared::binary::Binary;
use shared::platform::Backends;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: order_service::SERVICE,
        default_port: order_service::config::DEFAULT_PORT,
        openapi: Some(order_service::routes::openapi::api_doc),
        openapi_internal: Some(order_service::routes::openapi::internal::api_doc),
    };
    binary
        .run(
            order_service::Config::from_env,
            |config| &config.common,
            Backends::from_config,
            order_service::build,
        )
        .await
}
