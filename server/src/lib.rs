//! The `castellan` server: every service mounted on one port.

use castellan_config::Settings;
use castellan_http::{Application, Mount};

/// Every service's routes. The SSO service joins here.
pub const MOUNTS: &[Mount] = &[castellan_identity::configure, castellan_organization::configure];

/// Builds the whole server (used by `main` and by the end-to-end tests, on port 0).
///
/// # Errors
/// See [`Application::build`].
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    Application::build(settings, MOUNTS).await
}

/// Serves on an already bound listener (tests bind port 0 first, so `BASE_URL` can name the port).
///
/// # Errors
/// See [`castellan_http::platform::bootstrap`].
pub async fn build_on(listener: std::net::TcpListener, settings: Settings) -> anyhow::Result<Application> {
    let state = castellan_http::platform::bootstrap(settings).await?;
    Application::serve(listener, state, MOUNTS)
}

/// Applies pending migrations and returns (`castellan migrate`).
///
/// # Errors
/// An unreachable database or a failing migration.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let db = castellan_data::connect(&settings.database_url)
        .await
        .context("connecting to the database")?;
    castellan_migrations::apply(&db)
        .await
        .context("running migrations")?;
    Ok(())
}
