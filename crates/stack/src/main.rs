//! `ecommerce`: starts all six services in embedded mode (SQLite under `./data`, in-process cache,
//! limits and revocation), prints the URLs and the admin login, and drains on Ctrl-C.
//! `ecommerce --demo` (or `DEMO_DATA=true`) also loads a demo catalogue.

#![allow(
    clippy::print_stderr,
    reason = "the banner is for the person at the terminal; stdout carries only the logs"
)]

use shared::config::Env;
use stack::{Service, Stack, StackOptions};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// mimalloc, as in the standalone gateway: the proxy path allocates small buffers per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The launcher's login and registration limit, per client and per email: friendlier than the
/// services' production default (5/60), for someone trying the API by hand.
const LAUNCHER_AUTH_LIMIT: &str = "50/60";

const USAGE: &str = "usage: ecommerce [--demo]

Starts the six services in one process (embedded mode, data under DATA_DIR, default ./data).
  --demo   load a demo catalogue (also DEMO_DATA=true)
Ports: GATEWAY_PORT (3000), AUTH_PORT (4001), PRODUCT_PORT (4002), ORDER_PORT (4003),
PAYMENT_PORT (4004), EVENT_BUS_PORT (4005); 0 picks a free port. README lists every variable.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut demo = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--demo" => demo = true,
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let process = Env::from_process();
    shared::telemetry::init(process.get("LOG_FORMAT") == Some("json"));
    demo |= process.get("DEMO_DATA") == Some("true");
    let data_dir = PathBuf::from(process.get("DATA_DIR").unwrap_or("data"));
    let host: IpAddr = process.get("HOST").unwrap_or("127.0.0.1").parse()?;
    let ports = StackOptions::ports_from(&process)?;
    let password_from_env = process.get("ADMIN_PASSWORD").is_some();
    let auth_limit_from_env = process.get("RATE_LIMIT_AUTH").is_some();
    let env = stack::secrets::load_or_create(&data_dir, process)?
        .with_default("ADMIN_EMAIL", "admin@example.com")
        .with_default("RATE_LIMIT_AUTH", LAUNCHER_AUTH_LIMIT);
    let admin_email = env.get("ADMIN_EMAIL").unwrap_or_default().to_string();
    let admin_password = env.get("ADMIN_PASSWORD").unwrap_or_default().to_string();
    let auth_limit = env.get("RATE_LIMIT_AUTH").unwrap_or_default().to_string();

    let stack = Stack::start(StackOptions {
        data_dir: data_dir.clone(),
        host,
        ports,
        env,
        payment_provider: None,
        demo_data: demo,
    })
    .await?;

    // Written at once: the services log to stdout meanwhile, and a banner written piece by piece
    // to stderr came out with a log line in the middle of it.
    let mut banner = String::new();
    writeln!(
        banner,
        "\nE-commerce platform is running (embedded mode, data in {}/)\n",
        data_dir.display()
    )?;
    for svc in Service::ALL.iter().rev() {
        writeln!(banner, "  {:<16} {}", svc.name(), stack.url(*svc))?;
    }
    writeln!(banner, "\nAdmin login:  {admin_email}")?;
    if password_from_env {
        writeln!(banner, "    password: the value of ADMIN_PASSWORD")?;
    } else {
        writeln!(
            banner,
            "    password: {admin_password}   (generated; kept in {}/secrets.env)",
            data_dir.display()
        )?;
    }
    if auth_limit_from_env {
        writeln!(
            banner,
            "\nLogin and registration limit: {auth_limit} (RATE_LIMIT_AUTH)"
        )?;
    } else {
        writeln!(banner,
            "\nLogin and registration limit: {auth_limit} per client and per email, friendlier than \
             the services' production default of 5/60 (set RATE_LIMIT_AUTH to change it)"
        )?;
    }
    if let Some(added) = stack.demo_added() {
        writeln!(
            banner,
            "Demo catalogue: {added} products added ({} in all)",
            stack::demo::PRODUCTS.len()
        )?;
    }
    let gateway = stack.url(Service::Gateway);
    writeln!(
        banner,
        "\nTry:\n  curl -s -X POST {gateway}/api/auth/login -H 'Content-Type: application/json' \\"
    )?;
    writeln!(
        banner,
        "       -d '{{\"email\":\"{admin_email}\",\"password\":\"<password above>\"}}'"
    )?;
    writeln!(banner, "\nPress Ctrl-C to stop.\n")?;
    std::io::Write::write_all(&mut std::io::stderr(), banner.as_bytes())?;

    let shutdown = CancellationToken::new();
    shared::shutdown::cancel_on_signal(shutdown.clone());
    stack.run_until(shutdown).await?;
    eprintln!("Stopped.");
    Ok(())
}
