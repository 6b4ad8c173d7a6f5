//! The `castellan` server: every service mounted on one port.

pub mod secrets;

use castellan_config::Settings;
use castellan_http::Mount;
use castellan_platform::Application;

/// Every service's routes.
pub const MOUNTS: &[Mount] = &[
    castellan_identity::configure,
    castellan_organization::configure,
    castellan_sso::configure,
];

/// Every mounted route, relative to the base path (for the route-table-driven tests).
#[must_use]
pub fn route_table() -> Vec<castellan_http::routes::RouteInfo> {
    castellan_http::routes::table(MOUNTS)
}

/// Builds the whole server (used by `main` and by the end-to-end tests, on port 0).
///
/// # Errors
/// See [`Application::build`].
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let pages = pages(&settings);
    Application::build(settings, MOUNTS, pages).await
}

/// The hosted pages, unless `HOSTED_PAGES` turns them off.
fn pages(settings: &Settings) -> Option<castellan_platform::PageMount> {
    settings
        .hosted_pages
        .enabled
        .then_some(castellan_console::configure as castellan_platform::PageMount)
}

/// Serves on an already bound listener (tests bind port 0 first, so `BASE_URL` can name the port).
///
/// # Errors
/// See [`castellan_platform::bootstrap`].
pub async fn build_on(listener: std::net::TcpListener, settings: Settings) -> anyhow::Result<Application> {
    let pages = pages(&settings);
    let platform = castellan_platform::bootstrap(settings).await?;
    Application::serve(listener, platform, MOUNTS, pages)
}

/// Every migration, and whether the database has it (`castellan migrate --status`).
///
/// # Errors
/// The database does not answer.
pub async fn migration_status(settings: &Settings) -> anyhow::Result<Vec<(String, bool)>> {
    use anyhow::Context as _;
    let db = castellan_data::connect(&settings.database_url)
        .await
        .context("connecting to the database")?;
    castellan_migrations::status(&db)
        .await
        .context("reading the applied migrations")
}

/// `castellan keys rotate [--revoke-old]`: a new JWT signing key now (see
/// `JwtIssuer::rotate_now`). Returns the new key's id and how many keys were retired.
///
/// # Errors
/// The database does not answer.
pub async fn rotate_signing_key(settings: &Settings, revoke: bool) -> anyhow::Result<(String, usize)> {
    use anyhow::Context as _;
    let db = castellan_data::connect(&settings.database_url)
        .await
        .context("connecting to the database")?;
    let issuer = castellan_session::jwt::JwtIssuer::new(
        db,
        settings.secrets.clone(),
        settings.origin(),
        settings.jwt_ttl,
        settings.jwt_key_rotation,
        std::sync::Arc::new(castellan_data::SystemClock),
    );
    issuer
        .rotate_now(revoke)
        .await
        .map_err(|e| anyhow::anyhow!("rotating the signing key: {e}"))
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

/// `castellan admin create`: creates the user as an admin, or promotes an existing one
/// (setting the password only if they have none).
///
/// # Errors
/// An invalid address or empty password, or what bootstrapping and storing refuse.
pub async fn create_admin(
    settings: Settings,
    email: &str,
    password: &str,
    name: Option<&str>,
) -> anyhow::Result<String> {
    let email = email.to_lowercase();
    anyhow::ensure!(!password.is_empty(), "the password is empty");
    let name = name.unwrap_or("Administrator");
    anyhow::ensure!(
        castellan_domain::is_valid_email(&email),
        "{email:?} is not an email address"
    );
    let platform = castellan_platform::bootstrap(settings).await?;
    let http = &platform.http;
    let identity = castellan_identity::IdentityService::new(
        http.db.clone(),
        http.sessions.clone(),
        http.passwords.clone(),
        platform.outbox.clone(),
        http.settings.clone(),
        http.clock.clone(),
        platform.authz.clone(),
    );
    let user = identity
        .ensure_admin(&email, name, password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(user.id)
}

/// `castellan healthcheck`: asks this host's server for `/ok` (the container's `HEALTHCHECK`,
/// which has no curl). Succeeds on a 200 within five seconds.
///
/// # Errors
/// No answer, or any other status.
pub fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    use std::io::{Read as _, Write as _};
    use std::time::Duration;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], settings.port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| anyhow::anyhow!("no server on {addr}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {}/ok HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        settings.base_path
    )?;
    let mut answer = Vec::new();
    stream.take(4096).read_to_end(&mut answer)?;
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(
        status_line.split_whitespace().nth(1) == Some("200"),
        "unhealthy: {status_line:?}"
    );
    Ok(())
}
