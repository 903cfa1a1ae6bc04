//! The whole platform in one process: six services, each on its own port and talking to the others
//! over HTTP exactly as in production, sharing one set of in-process backends (cache, limits,
//! revocations). Used by the `ecommerce` binary and by the end-to-end tests.

pub mod demo;
pub mod secrets;

use anyhow::Context;
use shared::config::Env;
use shared::platform::Backends;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One of the six services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// API gateway (3000).
    Gateway,
    /// Auth service (4001).
    Auth,
    /// Product service (4002).
    Products,
    /// Order service (4003).
    Orders,
    /// Payment service (4004).
    Payments,
    /// Event bus (4005).
    Events,
}

impl Service {
    /// All services, in start order (the gateway last).
    pub const ALL: [Service; 6] = [
        Service::Events,
        Service::Auth,
        Service::Products,
        Service::Orders,
        Service::Payments,
        Service::Gateway,
    ];

    /// The usual port.
    pub fn default_port(self) -> u16 {
        match self {
            Service::Gateway => 3000,
            Service::Auth => 4001,
            Service::Products => 4002,
            Service::Orders => 4003,
            Service::Payments => 4004,
            Service::Events => 4005,
        }
    }

    /// The launcher's variable for the service's port.
    pub fn port_variable(self) -> &'static str {
        match self {
            Service::Gateway => "GATEWAY_PORT",
            Service::Auth => "AUTH_PORT",
            Service::Products => "PRODUCT_PORT",
            Service::Orders => "ORDER_PORT",
            Service::Payments => "PAYMENT_PORT",
            Service::Events => "EVENT_BUS_PORT",
        }
    }

    /// The service's name.
    pub fn name(self) -> &'static str {
        match self {
            Service::Gateway => "api-gateway",
            Service::Auth => "auth-service",
            Service::Products => "product-service",
            Service::Orders => "order-service",
            Service::Payments => "payment-service",
            Service::Events => "event-bus",
        }
    }

    /// The SQLite file name under the data directory.
    fn db_name(self) -> Option<&'static str> {
        match self {
            Service::Gateway => None,
            Service::Auth => Some("auth"),
            Service::Products => Some("products"),
            Service::Orders => Some("orders"),
            Service::Payments => Some("payments"),
            Service::Events => Some("events"),
        }
    }
}

/// How to start the stack.
pub struct StackOptions {
    /// Where the SQLite files live.
    pub data_dir: PathBuf,
    /// Address to bind.
    pub host: IpAddr,
    /// Port per service; 0 picks a free one.
    pub ports: HashMap<Service, u16>,
    /// Variables for every service (secrets, admin, overrides); per-service ports, database URLs and
    /// service URLs are added by the stack.
    pub env: Env,
    /// A payment provider to use instead of the simulated one configured by env.
    pub payment_provider: Option<Arc<dyn payment_service::clients::provider::PaymentProvider>>,
    /// Load the demo catalogue ([`demo`]) before the services start.
    pub demo_data: bool,
}

impl StackOptions {
    /// The usual ports on `host`.
    pub fn usual_ports() -> HashMap<Service, u16> {
        Service::ALL
            .iter()
            .map(|s| (*s, s.default_port()))
            .collect()
    }

    /// The ports `env` asks for (`GATEWAY_PORT`, `AUTH_PORT`, `PRODUCT_PORT`, `ORDER_PORT`,
    /// `PAYMENT_PORT`, `EVENT_BUS_PORT`; 0 picks a free port), the usual ones for the others.
    pub fn ports_from(env: &Env) -> anyhow::Result<HashMap<Service, u16>> {
        let mut ports = Self::usual_ports();
        for svc in Service::ALL {
            let key = svc.port_variable();
            if let Some(raw) = env.get(key) {
                let port = raw.trim().parse::<u16>().map_err(|_| {
                    anyhow::anyhow!("{key} must be a port number, 0 to 65535 (0 picks a free port); got {raw:?}")
                })?;
                ports.insert(svc, port);
            }
        }
        Ok(ports)
    }
}

struct Running {
    cancel: CancellationToken,
    handle: JoinHandle<anyhow::Result<()>>,
}

/// The running platform.
pub struct Stack {
    addrs: HashMap<Service, SocketAddr>,
    running: HashMap<Service, Running>,
    env: Env,
    backends: Backends,
    provider: Option<Arc<dyn payment_service::clients::provider::PaymentProvider>>,
    demo_added: Option<usize>,
}

impl Stack {
    /// Binds every port first (so each service knows the others' URLs), then starts the services.
    pub async fn start(opts: StackOptions) -> anyhow::Result<Stack> {
        let mut listeners = HashMap::new();
        let mut addrs = HashMap::new();
        for svc in Service::ALL {
            let port = opts.ports.get(&svc).copied().unwrap_or(0);
            let listener = TcpListener::bind((opts.host, port)).await.with_context(|| {
                format!(
                    "cannot bind {} to {}:{port}; choose another port with {}=<port> (0 picks a free one)",
                    svc.name(),
                    opts.host,
                    svc.port_variable()
                )
            })?;
            addrs.insert(svc, listener.local_addr()?);
            listeners.insert(svc, listener);
        }
        let url = |s: Service| format!("http://{}", addrs[&s]);
        let mut env = opts
            .env
            .with_default("DEV_TOOLS", "true")
            .with("AUTH_SERVICE_URL", url(Service::Auth))
            .with("PRODUCT_SERVICE_URL", url(Service::Products))
            .with("ORDER_SERVICE_URL", url(Service::Orders))
            .with("PAYMENT_SERVICE_URL", url(Service::Payments))
            .with("EVENT_BUS_URL", url(Service::Events))
            .with(
                "EVENT_SUBSCRIBERS",
                format!(
                    "orders={},payments={}",
                    url(Service::Orders),
                    url(Service::Payments)
                ),
            )
            .with_default("EVENT_SUBSCRIPTIONS", default_subscriptions());
        let mongo = env
            .get("DATABASE_URL")
            .filter(|u| u.starts_with("mongodb"))
            .map(str::to_string);
        for svc in Service::ALL {
            if let Some(db) = svc.db_name() {
                let key = format!("{}_DATABASE_URL", db.to_uppercase());
                let path = opts.data_dir.join(format!("{db}.db"));
                let value = match (env.get(&key), &mongo) {
                    (Some(url), _) => url.to_string(),
                    // One MongoDB server, each service in its own database.
                    (None, Some(url)) => {
                        shared::mongo::with_database(url, &format!("ecommerce_{db}"))
                    }
                    (None, None) => format!("sqlite://{}", path.display()),
                };
                env = env.with(&key, value);
            }
        }
        let mut demo_added = None;
        if opts.demo_data {
            let url = env
                .get("PRODUCTS_DATABASE_URL")
                .context("no product database")?;
            let store = product_service::store::connect(url, Default::default())
                .await
                .context("opening the product database for the demo data")?;
            demo_added = Some(demo::load(&*store).await.context("loading the demo data")?);
        }
        // One Redis shared by every service when REDIS_URL is set, else one in-process set.
        let backends = match env.get("REDIS_URL") {
            Some(url) => {
                let prefix = env
                    .get("REDIS_KEY_PREFIX")
                    .unwrap_or(shared::redis::DEFAULT_KEY_PREFIX);
                shared::redis::RedisBackends::new(url, prefix)
                    .context("REDIS_URL")?
                    .backends()
            }
            None => Backends::in_process(),
        };
        let mut stack = Stack {
            addrs,
            running: HashMap::new(),
            env,
            backends,
            provider: opts.payment_provider,
            demo_added,
        };
        for svc in Service::ALL {
            let listener = listeners.remove(&svc).context("listener missing")?;
            stack.launch(svc, listener).await?;
        }
        Ok(stack)
    }

    /// The environment one service sees.
    fn env_for(&self, svc: Service) -> Env {
        let mut env = self
            .env
            .clone()
            .with("PORT", self.addrs[&svc].port().to_string());
        if let Some(db) = svc.db_name() {
            let key = format!("{}_DATABASE_URL", db.to_uppercase());
            if let Some(url) = self.env.get(&key) {
                env = env.with("DATABASE_URL", url);
            }
        }
        env
    }

    async fn launch(&mut self, svc: Service, listener: TcpListener) -> anyhow::Result<()> {
        let env = self.env_for(svc);
        let backends = self.backends.clone();
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let handle = match svc {
            Service::Gateway => {
                let app =
                    api_gateway::build(api_gateway::Config::from_env(&env)?, backends).await?;
                tokio::spawn(async move { app.run(listener, token).await })
            }
            Service::Auth => {
                let app =
                    auth_service::build(auth_service::Config::from_env(&env)?, backends).await?;
                tokio::spawn(async move { app.run(listener, token).await })
            }
            Service::Products => {
                let config = product_service::Config::from_env(&env)?;
                let app = product_service::build(config, backends).await?;
                tokio::spawn(async move { app.run(listener, token).await })
            }
            Service::Orders => {
                let app =
                    order_service::build(order_service::Config::from_env(&env)?, backends).await?;
                tokio::spawn(async move { app.run(listener, token).await })
            }
            Service::Payments => {
                let config = payment_service::Config::from_env(&env)?;
                let app = match &self.provider {
                    Some(p) => {
                        payment_service::build_with_provider(config, backends, p.clone()).await?
                    }
                    None => payment_service::build(config, backends).await?,
                };
                tokio::spawn(async move { app.run(listener, token).await })
            }
            Service::Events => {
                let app =
                    event_bus::build(event_bus::config::Config::from_env(&env)?, backends).await?;
                tokio::spawn(async move { app.run(listener, token).await })
            }
        };
        self.running.insert(svc, Running { cancel, handle });
        Ok(())
    }

    /// How many demo products this start added (`None` without demo data).
    pub fn demo_added(&self) -> Option<usize> {
        self.demo_added
    }

    /// The base URL of a service.
    pub fn url(&self, svc: Service) -> String {
        format!("http://{}", self.addrs[&svc])
    }

    /// The address of a service.
    pub fn addr(&self, svc: Service) -> SocketAddr {
        self.addrs[&svc]
    }

    /// Stops one service (drains it) and waits for it to exit.
    pub async fn stop(&mut self, svc: Service) -> anyhow::Result<()> {
        if let Some(r) = self.running.remove(&svc) {
            r.cancel.cancel();
            r.handle.await??;
        }
        Ok(())
    }

    /// Starts a stopped service again on the same port with the same data.
    pub async fn restart(&mut self, svc: Service) -> anyhow::Result<()> {
        self.stop(svc).await?;
        let listener = TcpListener::bind(self.addrs[&svc]).await?;
        self.launch(svc, listener).await
    }

    /// Waits for `shutdown`, then stops every service.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        shutdown.cancelled().await;
        self.shutdown().await
    }

    /// Stops every service, gateway first.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        for svc in [
            Service::Gateway,
            Service::Orders,
            Service::Payments,
            Service::Products,
            Service::Auth,
            Service::Events,
        ] {
            self.stop(svc).await?;
        }
        Ok(())
    }
}

/// Each service's subscription on the bus: only the event types it acts on are delivered to it.
pub fn default_subscriptions() -> String {
    use shared::events::types::{ORDER_SERVICE_CONSUMES, PAYMENT_SERVICE_CONSUMES};
    format!(
        "orders={},payments={}",
        ORDER_SERVICE_CONSUMES.join("|"),
        PAYMENT_SERVICE_CONSUMES.join("|")
    )
}
