//! The organization service on its own, for deployments that run services as separate
//! processes on shared Postgres and Redis.

use anyhow::Context as _;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let settings = castellan_config::Settings::from_env().context("reading settings")?;
    let app = castellan_http::Application::build(settings, castellan_organization::MOUNTS).await?;
    tracing::info!(port = app.port(), "castellan-organization listening");
    app.run_until_stopped().await.context("serving")
}
