//! product-service binary: answers the container flags, or serves until SIGTERM or Ctrl-C
//! (`shared::binary`).

use shared::binary::Binary;
use shared::platform::Backends;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: product_service::SERVICE,
        default_port: product_service::config::DEFAULT_PORT,
        openapi: Some(product_service::routes::openapi::api_doc),
        openapi_internal: Some(product_service::routes::openapi::internal::api_doc),
    };
    binary
        .run(
            product_service::Config::from_env,
            |config| &config.common,
            Backends::from_config,
            product_service::build,
        )
        .await
}
