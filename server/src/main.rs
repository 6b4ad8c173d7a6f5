//! `castellan` (serve, the default), `castellan migrate`, `castellan admin create`,
//! `castellan secrets rotate` and `castellan healthcheck`.

use anyhow::Context as _;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    castellan_platform::init_tracing();
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
        Some("admin") if std::env::args().nth(2).as_deref() == Some("create") => {
            let args: Vec<String> = std::env::args().skip(3).collect();
            let id = castellan::create_admin(settings, &args).await?;
            println!("admin ready: user {id}");
            Ok(())
        }
        Some("healthcheck") => castellan::healthcheck(&settings),
        Some("secrets") if std::env::args().nth(2).as_deref() == Some("rotate") => {
            let done = castellan::secrets::rotate(&settings).await?;
            println!("secrets rotated: {done}");
            anyhow::ensure!(
                done.unreadable == 0,
                "{} stored values open with none of the configured secrets; keep the secrets that sealed them",
                done.unreadable
            );
            Ok(())
        }
        Some(other) => {
            anyhow::bail!(
                "unknown command {other:?}; expected `serve`, `migrate`, `healthcheck`, `secrets rotate` or `admin create --email E --password-stdin`"
            )
        }
    }
}
