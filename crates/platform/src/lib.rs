//! Starting Castellan: connect the database (running migrations), the cache, the mailer and the
//! policies, then serve the mounted services under the base path on one listener. The
//! `castellan` binary and each service's own binary start here; the services themselves only
//! see what is registered for them (`castellan_http::state::registered`).

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;

use castellan_cache::Cache;
use castellan_config::Settings;
use castellan_data::SystemClock;

use castellan_authz::Authorizer;
use castellan_http::AuthState;
use castellan_http::error::not_found;
use castellan_http::rate_limit::rate_limit;
use castellan_http::routes::Routes;
use castellan_mail::Outbox;

/// How long shutdown waits for webhook deliveries in flight.
const SHUTDOWN_WEBHOOK_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);
/// How long shutdown waits for queued mail to go out.
const SHUTDOWN_MAIL_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Organizations whose enforcers stay in memory at once.
const AUTHZ_CACHE_ORGS: usize = 10_000;
/// Memberships a replica remembers at once (a few hundred bytes each).
const AUTHZ_CACHE_MEMBERSHIPS: usize = 200_000;

/// Hands the other replicas' announcements to what keeps copies of shared state.
struct ReplicaListener {
    authz: Arc<Authorizer>,
    sessions: Arc<castellan_session::SessionManager>,
}

impl castellan_cache::Subscriber for ReplicaListener {
    fn message(&self, channel: &str, message: &str) {
        if channel == castellan_session::SESSION_CHANNEL {
            self.sessions.heard(message);
        } else {
            self.authz.heard(channel, message);
        }
    }

    fn connected(&self, live: bool) {
        self.authz.subscribed(live);
        self.sessions.subscribed(live);
    }
}

pub use castellan_http::Mount;

/// Routes served at the root rather than under the base path (the hosted pages).
pub type PageMount = fn(&mut web::ServiceConfig);

/// Everything a running Castellan holds: the HTTP layer's state and what only the domains use.
#[derive(Clone)]
pub struct Platform {
    pub http: AuthState,
    /// The organization authorization authority (casbin).
    pub authz: Arc<Authorizer>,
    /// Where services queue mail; its sender runs beside the server.
    pub outbox: Outbox,
    /// The webhook delivery worker running beside the server.
    pub webhooks: castellan_webhooks::Dispatcher,
}

/// Connects everything the services need.
///
/// # Errors
/// An unreachable database or Redis, a failed migration, or a bad mail configuration.
pub async fn bootstrap(settings: Settings) -> anyhow::Result<Platform> {
    if settings.secret_is_dev_default {
        tracing::warn!(
            "CASTELLAN_SECRET is not set: using the public development secret. Anyone can forge \
             session cookies. Set CASTELLAN_SECRET before exposing this server."
        );
    }
    let db = castellan_data::connect(&settings.database_url)
        .await
        .context("connecting to the database")?;
    if settings.run_migrations {
        castellan_migrations::apply(&db)
            .await
            .context("running migrations")?;
    }
    let cache = Cache::connect(settings.redis_url.as_deref(), &settings.redis_prefix)
        .await
        .context("connecting to Redis")?;
    let mailer = castellan_mail::from_settings(
        settings.smtp_url.as_deref(),
        &settings.mail_from,
        &settings.mail_log,
    )
    .context("configuring mail")?;
    let passwords = castellan_session::Passwords::new().context("preparing password hashing")?;
    let shared_cache = matches!(cache, Cache::Redis(_)).then(|| cache.clone());
    let authz = Arc::new(
        castellan_authz::Authorizer::new(
            db.clone(),
            shared_cache,
            AUTHZ_CACHE_ORGS,
            AUTHZ_CACHE_MEMBERSHIPS,
        )
        .context("loading policies")?,
    );
    let clock: Arc<dyn castellan_data::Clock> = Arc::new(SystemClock);
    let outbox = Outbox::new(db.clone(), mailer, settings.secrets.clone(), clock.clone());
    tokio::spawn(outbox.clone().run());
    let webhooks = castellan_webhooks::Dispatcher::new(
        db.clone(),
        settings.secrets.clone(),
        settings.webhooks.clone(),
        clock.clone(),
        outbox.clone(),
        settings.app_name.clone(),
    )
    .context("preparing webhook delivery")?;
    tokio::spawn(webhooks.clone().run());
    let http = AuthState::new(settings, db, cache.clone(), clock, passwords);
    // Other replicas announce policy, membership and session changes; drop our copies.
    let listener = ReplicaListener {
        authz: authz.clone(),
        sessions: http.sessions.clone(),
    };
    tokio::spawn(async move {
        cache
            .subscribe(
                &[
                    castellan_authz::INVALIDATION_CHANNEL,
                    castellan_authz::MEMBERSHIP_CHANNEL,
                    castellan_session::SESSION_CHANNEL,
                ],
                &listener,
            )
            .await;
    });
    Ok(Platform {
        http,
        authz,
        outbox,
        webhooks,
    })
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    /// The `METRICS_ADDR` server, when metrics have their own address.
    metrics: Option<(Server, u16)>,
    platform: Platform,
}

/// `GET /metrics`: Prometheus' text format, with the gauges read as of now.
async fn metrics(http: web::Data<AuthState>) -> actix_web::HttpResponse {
    if let Some((open, idle, max)) = castellan_data::pool_stats(&http.db) {
        for (state, n) in [("open", open), ("idle", idle), ("max", max)] {
            castellan_metrics::DB_POOL
                .with_label_values(&[state])
                .set(i64::from(n));
        }
    }
    match castellan_data::repo::mail_outbox::waiting(&http.db).await {
        Ok(n) => castellan_metrics::MAIL_BACKLOG.set(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => tracing::warn!(error = %e, "counting the mail backlog failed"),
    }
    match castellan_data::repo::webhooks::backlog(&http.db).await {
        Ok(n) => castellan_metrics::WEBHOOK_BACKLOG.set(i64::try_from(n).unwrap_or(i64::MAX)),
        Err(e) => tracing::warn!(error = %e, "counting the webhook backlog failed"),
    }
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(castellan_metrics::render())
}

impl Application {
    /// Bootstraps and binds `HOST:PORT` (port 0 picks a free port).
    ///
    /// # Errors
    /// See [`bootstrap`]; also a port that cannot be bound.
    pub async fn build(
        settings: Settings,
        mounts: &'static [Mount],
        pages: Option<PageMount>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
        let platform = bootstrap(settings).await?;
        Self::serve(listener, platform, mounts, pages)
    }

    /// Serves an already bound listener: the mounted services under the base path, and `pages`
    /// at the root beside them (the hosted pages of the `castellan` binary; the single-service
    /// binaries serve only their API).
    ///
    /// # Errors
    /// A listener actix cannot take.
    pub fn serve(
        listener: TcpListener,
        platform: Platform,
        mounts: &'static [Mount],
        pages: Option<PageMount>,
    ) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let http = web::Data::new(platform.http.clone());
        let authz = web::Data::from(platform.authz.clone());
        let outbox = web::Data::new(platform.outbox.clone());
        let base_path = platform.http.settings.base_path.clone();
        let state = platform.http.clone();
        let open_api = web::Data::new(castellan_http::openapi::document(
            &castellan_http::routes::table(mounts),
            &platform.http.settings.auth_url(),
            env!("CARGO_PKG_VERSION"),
        ));
        let metrics_addr = platform.http.settings.metrics_addr;
        let metrics_server = match metrics_addr {
            None => None,
            Some(addr) => {
                let listener =
                    TcpListener::bind(addr).with_context(|| format!("binding METRICS_ADDR {addr}"))?;
                let port = listener.local_addr()?.port();
                let http = http.clone();
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(http.clone())
                        .route("/metrics", web::get().to(metrics))
                        .default_service(web::to(not_found))
                })
                .workers(1)
                .listen(listener)?
                .run();
                Some((server, port))
            }
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(http.clone())
                .app_data(authz.clone())
                .app_data(outbox.clone())
                .app_data(open_api.clone())
                .wrap(from_fn(castellan_http::cookie_cache::drop_after_writes))
                .wrap(from_fn(castellan_http::bearer::set_auth_token))
                .wrap(from_fn(rate_limit))
                .wrap(from_fn(castellan_http::guard::hostile_input))
                // Outermost, so refusals (429, 400) carry CORS headers too and apps can read them.
                .wrap(from_fn(castellan_http::cors::cors))
                // Outermost of all: every answer, refusals included, carries its request id.
                .wrap(from_fn(castellan_http::request_id::request_id))
                .service(web::scope(&base_path).configure(|cfg| {
                    let mut routes = Routes::serving(cfg, &state);
                    for mount in mounts {
                        mount(&mut routes);
                    }
                }))
                .configure(|cfg| {
                    if metrics_addr.is_none() {
                        cfg.route("/metrics", web::get().to(metrics));
                    }
                    if let Some(pages) = pages {
                        pages(cfg);
                    }
                })
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            metrics: metrics_server,
            platform,
        })
    }

    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `GET /metrics` is served on when `METRICS_ADDR` gives it its own.
    #[must_use]
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    #[must_use]
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Serves until SIGTERM or SIGINT: actix stops accepting and lets requests in flight finish
    /// (at most 30 s), the webhook worker finishes its round (at most 15 s), then mail still queued
    /// is sent (at most 10 s) before returning.
    ///
    /// # Errors
    /// I/O errors of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let served = self.server.await;
        if let Some(handle) = metrics {
            handle.stop(true).await;
        }
        self.platform.webhooks.stop(SHUTDOWN_WEBHOOK_BUDGET).await;
        self.platform.outbox.drain(SHUTDOWN_MAIL_BUDGET).await;
        served
    }
}

/// Keeps the trace exporter alive; dropping it sends the spans still buffered.
#[must_use = "traces are exported only while the guard lives"]
pub struct Telemetry {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("castellan: exporting the last traces failed: {e}");
        }
    }
}

/// An OTLP (HTTP, protobuf) trace exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter reads the standard `OTEL_*`
/// variables itself. The service is `OTEL_SERVICE_NAME`, else `castellan`.
fn otlp_provider() -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("castellan: OTLP export is off: {e}");
            return None;
        }
    };
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "castellan".to_owned());
    Some(
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(service)
                    .build(),
            )
            .build(),
    )
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info,sqlx=warn`), as text or as JSON lines;
/// and exports the same spans over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init_tracing() -> Telemetry {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    // `LOG_FORMAT=json`: one JSON object per line, with the request span (its `request_id`) on
    // every line written while a request is served.
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let json_logs = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
    });
    let text_logs = (!json).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let provider = otlp_provider();
    let traces = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("castellan")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json_logs)
        .with(text_logs)
        .with(traces)
        .try_init();
    Telemetry { provider }
}

/// The body of a service's own binary: settings from the environment, then serve `mounts`.
///
/// # Errors
/// Bad settings, or any start-up or serving failure.
pub async fn run_service(name: &str, mounts: &'static [Mount]) -> anyhow::Result<()> {
    let _telemetry = init_tracing();
    let settings = Settings::from_env().context("reading settings")?;
    let app = Application::build(settings, mounts, None).await?;
    tracing::info!(port = app.port(), "{name} listening");
    app.run_until_stopped().await.context("serving")
}
