//! event-bus binary: answers the container flags, or serves until SIGTERM or Ctrl-C
//! (`shared::binary`).

use shared::binary::Binary;
use shared::platform::Backends;

/// mimalloc: every request allocates and frees small buffers; glibc's malloc costs more.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: event_bus::SERVICE,
        default_port: event_bus::config::DEFAULT_PORT,
        openapi: None,
        openapi_internal: Some(event_bus::openapi::api_doc),
    };
    binary
        .run(
            event_bus::Config::from_env,
            |config| &config.common,
            Backends::from_config,
            event_bus::build,
        )
        .await
}
