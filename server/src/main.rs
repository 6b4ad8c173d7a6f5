//! The `castellan` command line: `serve` (the default), `migrate`, `admin create`,
//! `secrets rotate`, `config check` and `healthcheck`. Errors are one line on stderr, and each
//! kind of failure has its own exit code (see [`Failure`]).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// A self-hosted, multi-tenant identity server that speaks Better Auth's API. Settings come
/// from the environment (see the README's Configuration table).
#[derive(Parser)]
#[command(name = "castellan", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every service on one port (the default), migrating the database first
    /// unless RUN_MIGRATIONS=0.
    Serve,
    /// Apply the pending database migrations, then exit.
    Migrate {
        /// List every migration and whether it is applied; change nothing.
        #[arg(long, conflicts_with = "dry_run")]
        status: bool,
        /// Show what would be applied; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage the secrets that seal stored values.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Manage the JWT signing keys published at /api/auth/jwks.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Exit 0 when the server on PORT answers /api/auth/ok (for container health checks).
    Healthcheck,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an administrator, or promote an existing user (setting the password only if
    /// they have none).
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input (keeps it out of `ps`
        /// and shell history).
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password on the command line (visible to other users of the machine).
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every sealed value under the current secret (the first of CASTELLAN_SECRETS).
    Rotate,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Sign with a new key from now on. The old keys stay published until the tokens they
    /// signed expire.
    Rotate {
        /// Withdraw the old keys at once (a leaked key): the tokens they signed stop verifying.
        #[arg(long)]
        revoke_old: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the environment and print the effective settings, secrets redacted.
    Check,
}

/// How a command failed; the exit code tells scripts which.
enum Failure {
    /// The environment is not a valid configuration (exit 3).
    Config(anyhow::Error),
    /// The command ran and failed: a database that does not answer, a refused value (exit 1).
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Runtime(e)
    }
}

fn settings() -> Result<castellan_config::Settings, Failure> {
    castellan_config::Settings::from_env().map_err(|e| Failure::Config(e.into()))
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Serve => {
            let app = castellan::build(settings()?).await?;
            tracing::info!(port = app.port(), "castellan listening");
            app.run_until_stopped().await.context("serving")?;
        }
        Command::Migrate { status, dry_run } => {
            let settings = settings()?;
            if status || dry_run {
                for (name, applied) in castellan::migration_status(&settings).await? {
                    match (applied, dry_run) {
                        (true, false) => println!("applied  {name}"),
                        (false, false) => println!("pending  {name}"),
                        (false, true) => println!("would apply {name}"),
                        (true, true) => {}
                    }
                }
            } else {
                castellan::migrate(&settings).await?;
                println!("migrations applied");
            }
        }
        Command::Admin(AdminCommand::Create {
            email,
            password_stdin,
            password,
            name,
        }) => {
            let settings = settings()?;
            let password = match (password_stdin, password) {
                (true, _) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("reading the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
                (false, Some(p)) => p,
                (false, None) => {
                    return Err(anyhow::anyhow!("--password-stdin (or --password) is required").into());
                }
            };
            let id = castellan::create_admin(settings, &email, &password, name.as_deref()).await?;
            println!("admin ready: user {id}");
        }
        Command::Secrets(SecretsCommand::Rotate) => {
            let done = castellan::secrets::rotate(&settings()?).await?;
            println!("secrets rotated: {done}");
            if done.unreadable > 0 {
                return Err(anyhow::anyhow!(
                    "{} stored values open with none of the configured secrets; keep the secrets that sealed them",
                    done.unreadable
                )
                .into());
            }
        }
        Command::Keys(KeysCommand::Rotate { revoke_old }) => {
            let (kid, retired) = castellan::rotate_signing_key(&settings()?, revoke_old).await?;
            let how = if revoke_old {
                "withdrawn now"
            } else {
                "published until their tokens expire"
            };
            println!("signing key {kid} in use; {retired} earlier keys {how}");
        }
        Command::Config(ConfigCommand::Check) => {
            let settings = settings()?;
            println!("{settings:#?}");
            if settings.secret_is_dev_default {
                println!("warning: CASTELLAN_SECRET is not set; the public development secret is in use");
            }
            println!("configuration ok");
        }
        Command::Healthcheck => castellan::healthcheck(&settings()?)?,
    }
    Ok(())
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = castellan_platform::init_tracing();
    match run(cli.command.unwrap_or(Command::Serve)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprintln!("castellan: configuration error: {e:#}");
            ExitCode::from(3)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("castellan: {e:#}");
            ExitCode::from(1)
        }
    }
}
