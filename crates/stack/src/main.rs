//! `ecommerce`: starts all six services in embedded mode (SQLite under `./data`, in-process cache,
//! limits and revocation), prints the URLs and the admin login, and drains on Ctrl-C.

#![allow(
    clippy::print_stdout,
    reason = "the banner is for the person at the terminal"
)]

use shared::config::Env;
use stack::{Service, Stack, StackOptions};
use std::net::IpAddr;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// mimalloc, as in the standalone gateway: the proxy path allocates small buffers per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let process = Env::from_process();
    shared::telemetry::init(process.get("LOG_FORMAT") == Some("json"));
    let data_dir = PathBuf::from(process.get("DATA_DIR").unwrap_or("data"));
    let host: IpAddr = process.get("HOST").unwrap_or("127.0.0.1").parse()?;
    let password_from_env = process.get("ADMIN_PASSWORD").is_some();
    let env = stack::secrets::load_or_create(&data_dir, process)?
        .with_default("ADMIN_EMAIL", "admin@example.com");
    let admin_email = env.get("ADMIN_EMAIL").unwrap_or_default().to_string();
    let admin_password = env.get("ADMIN_PASSWORD").unwrap_or_default().to_string();

    let stack = Stack::start(StackOptions {
        data_dir: data_dir.clone(),
        host,
        ports: StackOptions::usual_ports(),
        env,
        payment_provider: None,
    })
    .await?;

    println!(
        "\nE-commerce platform is running (embedded mode, data in {}/)\n",
        data_dir.display()
    );
    for svc in Service::ALL.iter().rev() {
        println!("  {:<16} {}", svc.name(), stack.url(*svc));
    }
    println!("\nAdmin login:  {admin_email}");
    if password_from_env {
        println!("    password: the value of ADMIN_PASSWORD");
    } else {
        println!(
            "    password: {admin_password}   (generated; kept in {}/secrets.env)",
            data_dir.display()
        );
    }
    let gateway = stack.url(Service::Gateway);
    println!(
        "\nTry:\n  curl -s -X POST {gateway}/api/auth/login -H 'Content-Type: application/json' \\"
    );
    println!("       -d '{{\"email\":\"{admin_email}\",\"password\":\"<password above>\"}}'");
    println!("\nPress Ctrl-C to stop.\n");

    let shutdown = CancellationToken::new();
    shared::shutdown::cancel_on_signal(shutdown.clone());
    stack.run_until(shutdown).await?;
    println!("Stopped.");
    Ok(())
}
