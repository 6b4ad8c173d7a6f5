//! `castellan` (serve, the default) and `castellan migrate`.

use anyhow::Context as _;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let settings = castellan_config::Settings::from_env().context("reading settings")?;
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {
            let app = castellan::build(settings).await?;
            tracing::info!(port = app.port(), "castellan listening");
            app.run_until_stopped().await.context("serving")
        }
        Some("migrate") => {
            castellan::migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command {other:?}; expected `serve` or `migrate`"),
    }
}
