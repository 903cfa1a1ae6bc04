//! auth-service binary: answers the container flags, or serves until SIGTERM or Ctrl-C
//! (`shared::binary`).

use shared::binary::Binary;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: auth_service::SERVICE,
        default_port: auth_service::config::DEFAULT_PORT,
        openapi: Some(auth_service::openapi::api_doc),
        openapi_internal: Some(auth_service::openapi::internal::api_doc),
    };
    binary
        .run(
            auth_service::Config::from_env,
            |config| &config.common,
            auth_service::backends,
            auth_service::build,
        )
        .await
}
