//! api-gateway binary: answers the container flags, or serves until SIGTERM or Ctrl-C
//! (`shared::binary`).

use shared::binary::Binary;
use shared::platform::Backends;

/// mimalloc: the proxy path allocates and frees small buffers on every request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = Binary {
        name: api_gateway::SERVICE,
        default_port: api_gateway::config::DEFAULT_PORT,
        openapi: None,
        openapi_internal: None,
    };
    binary
        .run(
            api_gateway::Config::from_env,
            |config| &config.common,
            Backends::from_config,
            api_gateway::build,
        )
        .await
}
