//! auth-service: accounts, login sessions, rotating refresh tokens and user administration for the
//! e-commerce backend (DESIGN 4.2). `build` connects the store and bootstraps the admin; the `App` it returns serves.

pub mod app;
pub mod config;
pub mod domain;
mod error;
mod routes;
/// The API's OpenAPI document (`GET /openapi.json`, `--openapi`).
pub use routes::openapi;
pub mod state;
pub mod store;

pub use config::Config;
pub use error::Error;

use anyhow::Context;
use app::password::Passwords;
use app::tokens::RefreshTokens;
use domain::{Role, User};
use routes::health::report;
pub use shared::app::App;
use shared::health::HealthView;
use shared::platform::{Backends, Common, CommonConfig};
use shared::redis::RedisError;
use state::AppState;
use std::sync::Arc;

/// The service name in logs, `/health` and `/ready`.
pub const SERVICE: &str = "auth-service";

/// The backends of a standalone auth service: without Redis it keeps the revoked sessions itself
/// (the other services ask it); with Redis every service shares them there.
pub fn backends(common: &CommonConfig) -> Result<Backends, RedisError> {
    match common.redis_url {
        Some(_) => Backends::from_config(common),
        None => Ok(Backends::in_process()),
    }
}

/// Connects the store (runs migrations), creates the configured admin, builds state and router.
pub async fn build(config: Config, backends: Backends) -> anyhow::Result<App> {
    let store = store::connect(&config.database_url, config.common.mongo)
        .await
        .context("connecting the user store")?;
    let mut common = Common::new(&config.common, backends).map_err(anyhow::Error::msg)?;
    // Sessions the shared set does not know are looked up here, not asked of ourselves over HTTP.
    common.authenticator.authority = Some(Arc::new(app::sessions::StoredSessions(store.clone())));
    let passwords = Passwords::new(config.argon2_memory_kib, config.hash_concurrency)
        .await
        .context("setting up password hashing")?;
    let health = HealthView::probing(config.common.health_refresh, store.clone(), report).await;
    let state = AppState {
        common,
        health: health.clone(),
        store,
        passwords,
        refresh: RefreshTokens::new(config.refresh_secret.expose()),
        auth_rate: config.auth_rate,
        refresh_ttl_ms: i64::try_from(config.refresh_ttl.as_millis()).unwrap_or(i64::MAX),
        metrics: shared::metrics::Metrics::new(SERVICE, env!("CARGO_PKG_VERSION")),
    };
    if let Some(admin) = &config.admin {
        bootstrap_admin(&state, admin).await?;
    }
    let draining = state.common.draining.clone();
    let router = routes::router(state, &config.common.http_options(SERVICE));
    Ok(App::new(SERVICE, router, draining, health))
}

async fn bootstrap_admin(state: &AppState, admin: &config::AdminBootstrap) -> anyhow::Result<()> {
    if state
        .store
        .find_user_by_email(&admin.email)
        .await?
        .is_some()
    {
        tracing::info!(email = %admin.email, "admin user already exists; left unchanged");
        return Ok(());
    }
    let now = shared::store::now_ms();
    let user = User {
        id: shared::ids::new_object_id(),
        name: admin.name.clone(),
        email: admin.email.clone(),
        password_hash: state.passwords.hash(admin.password.expose()).await?,
        role: Role::Admin,
        is_active: true,
        created_at: now,
        updated_at: now,
    };
    match state.store.create_user(&user).await {
        Ok(()) => tracing::info!(email = %admin.email, "admin user created"),
        // Another replica created it between our check and insert.
        Err(shared::store::StoreError::Conflict(_)) => {
            tracing::info!(email = %admin.email, "admin user already exists; left unchanged");
        }
        Err(e) => return Err(e).context("creating the admin user"),
    }
    Ok(())
}
