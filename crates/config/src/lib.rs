//! Castellan's settings, read from the environment.
//!
//! The variable names are a contract with deployment scripts (see the README): keep them.
//! Every value has a development default so that `cargo run` works on a fresh machine,
//! except that a production deployment must bring its own secret.

pub mod social;

use std::collections::HashMap;
use std::time::Duration;

use castellan_crypto::keyring::Keyring;
use url::Url;

/// The secret used when none is configured. Public on purpose: it is only fit for development.
pub const DEV_SECRET: &str = "castellan-dev-secret-change-me-0123456789";
/// Where mail goes without `SMTP_URL`: the development mailbox.
pub const DEFAULT_MAIL_LOG: &str = "./data/mail.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    /// As `Invalid`, for a variable whose name is made (`<PROVIDER>_CLIENT_ID`).
    #[error("{name} is not valid: {reason}")]
    InvalidNamed { name: String, reason: String },
    #[error(
        "CASTELLAN_SECRET (or BETTER_AUTH_SECRET, or a versioned CASTELLAN_SECRETS / BETTER_AUTH_SECRETS) must be set \
         when CASTELLAN_ENV=production"
    )]
    MissingSecret,
    /// Without SMTP, reset and verification links go to a file inside the container: fine on a
    /// laptop, lost (and readable by whoever has the volume) in production.
    #[error(
        "SMTP_URL must be set when CASTELLAN_ENV=production: without it, password-reset and verification \
         links would be written to {0} instead of being mailed"
    )]
    MissingSmtp(String),
}

const SECONDS: &str = "a number of seconds";
const SOCKET_ADDRESS: &str = "host:port (an IP address and a port)";

/// A set variable parsed as `T` (`None` when unset); `what` names what it must be.
fn parsed<T: std::str::FromStr>(
    value: Option<String>,
    name: &'static str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    value
        .map(|v| {
            v.parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("{v:?} is not {what}"),
            })
        })
        .transpose()
}

/// A whole number in `range`, `default` when unset.
fn ranged<T>(
    value: Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let n = parsed(value, name, "a whole number")?.unwrap_or(default);
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: format!("{n} is not between {} and {}", range.start(), range.end()),
        })
    }
}

/// How long sessions live and when they are extended, as in Better Auth's defaults.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub expires_in: Duration,
    pub update_age: Duration,
    pub fresh_age: Duration,
    /// Lifetime of a "don't remember me" session row.
    pub dont_remember_expires_in: Duration,
    /// How long a validated session may be served from the cache before the database is asked again.
    pub cache_ttl: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            expires_in: Duration::from_secs(7 * 24 * 3600),
            update_age: Duration::from_secs(24 * 3600),
            fresh_age: Duration::from_secs(24 * 3600),
            dont_remember_expires_in: Duration::from_secs(24 * 3600),
            cache_ttl: Duration::from_secs(300),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Request headers that carry the client address, first match wins. They are read only
    /// when the connection comes from one of `trusted_proxies`.
    pub ip_headers: Vec<String>,
    /// `TRUSTED_PROXIES`: the addresses (CIDRs or bare IPs) of the reverse proxies in front of
    /// Castellan. Empty by default, so a client cannot pick its own address with
    /// `X-Forwarded-For`.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Parses `TRUSTED_PROXIES`: comma-separated CIDRs (`10.0.0.0/8`) or bare addresses.
///
/// # Errors
/// An entry that is neither.
pub fn parse_proxies(value: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    name: "TRUSTED_PROXIES",
                    reason: format!("{entry:?} is not an IP address or CIDR"),
                })
        })
        .collect()
}

/// Debug output redacts the secret and credentials in URLs (see the `Debug` impl below).
#[derive(Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// Public URL of the auth API's origin (no path), e.g. `https://auth.example.com`.
    pub base_url: Url,
    pub base_path: String,
    /// The current secret: it signs cookies and tokens (Better Auth's `ctx.secret`).
    pub secret: String,
    /// Every secret still accepted, for opening values sealed and verifying signatures made
    /// before a rotation (see `castellan_crypto::keyring`).
    pub secrets: Keyring,
    pub secret_is_dev_default: bool,
    pub production: bool,
    pub database_url: String,
    pub redis_url: Option<String>,
    /// Prefix for every Redis key, so several deployments (or test runs) can share one server.
    pub redis_prefix: String,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_log: String,
    pub trusted_origins: Vec<String>,
    pub app_name: String,
    pub session: SessionSettings,
    pub password: PasswordPolicy,
    pub rate_limit: RateLimitSettings,
    pub send_verification_on_sign_up: bool,
    pub require_email_verification: bool,
    pub auto_sign_in_after_verification: bool,
    /// Account deletion waits for a mailed confirmation link.
    pub delete_account_verification: bool,
    pub run_migrations: bool,
    /// Users signing up with these addresses get the admin role (`ADMIN_EMAILS`, comma-separated).
    pub admin_emails: Vec<String>,
    /// Impersonation must give a `reason`.
    pub impersonation_requires_reason: bool,
    /// Lifetime of JWTs issued by `/token` and `set-auth-jwt`.
    pub jwt_ttl: Duration,
    /// How often the JWT signing key is replaced.
    pub jwt_key_rotation: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    pub sso: SsoSettings,
    pub social: social::SocialSettings,
    /// Where `GET /metrics` is served (`METRICS_ADDR`, `host:port`): alone on that address, and
    /// then not on the main port. `None` serves it on the main port.
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub magic_link: MagicLinkSettings,
    pub email_otp: EmailOtpSettings,
    pub passkey: PasskeySettings,
    pub webhooks: WebhookSettings,
    /// Better Auth's cookie cache (`SESSION_COOKIE_CACHE`, off by default): how long a signed
    /// `session_data` cookie may answer `get-session` (`SESSION_COOKIE_CACHE_MAX_AGE`, 300 s).
    pub session_cookie_cache: Option<Duration>,
    pub hosted_pages: HostedPagesSettings,
}

/// The hosted pages (`HOSTED_PAGES`, `THEME_*`): sign-in, account, organization console and
/// platform admin, served at the root of the main port.
#[derive(Debug, Clone)]
pub struct HostedPagesSettings {
    /// `HOSTED_PAGES` (on by default): off leaves only the API (and `/metrics`) on the port.
    pub enabled: bool,
    /// `THEME_COLOR`: the accent colour, `#rgb` or `#rrggbb` (checked, since it is written
    /// into a style sheet).
    pub color: Option<String>,
    /// `THEME_LOGO_URL`: an `https://` URL or a path on this origin, shown beside `APP_NAME`.
    pub logo_url: Option<String>,
    /// `THEME_CSS_FILE`: a style sheet read at start-up and served after the built-in one, for
    /// everything colours and a logo do not cover.
    pub extra_css: Option<String>,
}

/// Magic links (`MAGIC_LINK_*`).
#[derive(Debug, Clone)]
pub struct MagicLinkSettings {
    /// `MAGIC_LINK` (on by default): `sign-in/magic-link` and `magic-link/verify` are served.
    pub enabled: bool,
    /// `MAGIC_LINK_EXPIRES_IN` seconds (300, Better Auth's).
    pub expires_in_secs: i64,
    /// `MAGIC_LINK_DISABLE_SIGN_UP`: a link for an unknown address creates no user.
    pub disable_sign_up: bool,
}

/// One-time codes by mail (`EMAIL_OTP_*`), Better Auth's `emailOTP` plugin.
#[derive(Debug, Clone)]
pub struct EmailOtpSettings {
    /// `EMAIL_OTP` (on by default): the `email-otp` endpoints are served.
    pub enabled: bool,
    /// `EMAIL_OTP_LENGTH` digits (6, Better Auth's).
    pub length: usize,
    /// `EMAIL_OTP_EXPIRES_IN` seconds (300, Better Auth's).
    pub expires_in_secs: i64,
    /// `EMAIL_OTP_ALLOWED_ATTEMPTS` wrong guesses before a code is dead (3, Better Auth's).
    pub allowed_attempts: u32,
    /// `EMAIL_OTP_DISABLE_SIGN_UP`: a code for an unknown address creates no user.
    pub disable_sign_up: bool,
    /// `EMAIL_OTP_CHANGE_EMAIL`: `request-email-change` and `change-email` are allowed (off, as
    /// in Better Auth).
    pub change_email: bool,
    /// `EMAIL_OTP_VERIFY_CURRENT_EMAIL`: an email change also needs a code sent to the current
    /// address.
    pub verify_current_email: bool,
}

/// Passkeys (`PASSKEY_*`), `@better-auth/passkey`'s options.
#[derive(Debug, Clone)]
pub struct PasskeySettings {
    /// `PASSKEY_RP_ID`: the WebAuthn relying-party id, a registrable domain (default: the host
    /// of `BASE_URL`).
    pub rp_id: Option<String>,
    /// `PASSKEY_RP_NAME`: the name authenticators show (default: `APP_NAME`).
    pub rp_name: Option<String>,
    /// `PASSKEY_ORIGIN`: the origins ceremonies may come from, comma-separated (default: the
    /// request's `Origin` when it is a trusted origin, as Better Auth does).
    pub origins: Vec<String>,
}

/// Webhook delivery (`WEBHOOK_*`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOK_ALLOW_PRIVATE_TARGETS`: endpoints may be loopback, private or link-local
    /// addresses (off: a webhook URL is a request Castellan makes on a tenant's behalf, and
    /// must not reach the operator's own network).
    pub allow_private_targets: bool,
    /// `WEBHOOK_RETRY_SCHEDULE`: the waits between attempts, comma-separated (`5s,5m,30m,2h,5h,
    /// 10h,10h`, about a day, by default). After the last one fails the endpoint is disabled.
    pub retry_schedule: Vec<Duration>,
    /// `WEBHOOK_TIMEOUT_SECONDS`: how long one attempt may take (default 15).
    pub timeout: Duration,
}

/// Standard Webhooks' recommended schedule: about 28 hours of retries after the first attempt.
pub const DEFAULT_WEBHOOK_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

fn hosted_pages(
    get: &dyn Fn(&str) -> Option<String>,
    flag: &dyn Fn(&str, bool) -> bool,
) -> Result<HostedPagesSettings, ConfigError> {
    let color = get("THEME_COLOR");
    if let Some(c) = &color {
        let hex = c.strip_prefix('#').unwrap_or("");
        if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::Invalid {
                name: "THEME_COLOR",
                reason: format!("{c:?} is not a colour such as #0b5fff"),
            });
        }
    }
    let logo_url = get("THEME_LOGO_URL");
    if let Some(logo) = &logo_url {
        let path = logo.starts_with('/') && !logo.starts_with("//");
        let https = Url::parse(logo).is_ok_and(|u| u.scheme() == "https");
        if !(path || https) || logo.contains(['"', '\\', '<', '>', '\'']) {
            return Err(ConfigError::Invalid {
                name: "THEME_LOGO_URL",
                reason: format!("{logo:?} is neither an https:// URL nor a path on this origin"),
            });
        }
    }
    let extra_css = match get("THEME_CSS_FILE") {
        None => None,
        Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
            name: "THEME_CSS_FILE",
            reason: format!("{path}: {e}"),
        })?),
    };
    Ok(HostedPagesSettings {
        enabled: flag("HOSTED_PAGES", true),
        color,
        logo_url,
        extra_css,
    })
}

/// `150ms`, `5s`, `5m`, `2h`: a number and a unit.
fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = raw.split_at(split);
    let n: u64 = n.parse().ok()?;
    let per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    Some(Duration::from_millis(n.checked_mul(per)?))
}

fn parse_schedule(raw: &str) -> Result<Vec<Duration>, ConfigError> {
    let schedule: Option<Vec<Duration>> = raw.split(',').map(parse_duration).collect();
    match schedule {
        Some(s) if !s.is_empty() && s.len() <= 30 => Ok(s),
        _ => Err(ConfigError::Invalid {
            name: "WEBHOOK_RETRY_SCHEDULE",
            reason: format!("{raw:?} is not a list of 1 to 30 durations such as 5s,5m,2h"),
        }),
    }
}

/// Enterprise SSO (`SSO_*`).
#[derive(Debug, Clone)]
pub struct SsoSettings {
    /// Sign-in through a connection needs its domain proven by a DNS TXT record first
    /// (`SSO_DOMAIN_VERIFICATION`, on by default).
    pub domain_verification: bool,
    /// The nameserver for TXT lookups (`SSO_DNS_SERVER`, `host:port`); `None` uses the system's.
    pub dns_server: Option<std::net::SocketAddr>,
    /// The TXT record is `_<prefix>-<providerId>.<domain>` (Better Auth's default prefix).
    pub token_prefix: String,
    /// The organization role SSO users get when a connection names none (`SSO_DEFAULT_ROLE`).
    pub default_role: String,
    /// Origins (patterns as in `TRUSTED_ORIGINS`) from which IdP endpoints may be fetched even
    /// though they are not public hosts (`SSO_TRUSTED_IDP_ORIGINS`): loopback or private IdPs.
    pub trusted_idp_origins: Vec<String>,
    /// Tolerated clock difference with IdPs (`SSO_CLOCK_SKEW_SECONDS`, default 120).
    pub clock_skew: Duration,
}

impl Settings {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A variable that is set but cannot be parsed, or a production deployment without a secret.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads settings from the given variables; `from_env` passes the process environment.
    ///
    /// # Errors
    /// See [`Settings::from_env`].
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let flag = |k: &str, default: bool| match get(k).as_deref() {
            None => default,
            Some(v) => !matches!(v.to_ascii_lowercase().as_str(), "0" | "false" | "no" | "off"),
        };

        let production = get("CASTELLAN_ENV").is_some_and(|v| v.eq_ignore_ascii_case("production"));
        let port = parsed(get("PORT"), "PORT", "a port number")?.unwrap_or(3000);
        let host = get("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
        let base_raw = get("BASE_URL")
            .or_else(|| get("BETTER_AUTH_URL"))
            .unwrap_or_else(|| format!("http://localhost:{port}"));
        let base_url = parse_origin(&base_raw)?;
        let legacy = get("CASTELLAN_SECRET").or_else(|| get("BETTER_AUTH_SECRET"));
        let versioned = get("CASTELLAN_SECRETS").or_else(|| get("BETTER_AUTH_SECRETS"));
        let secret_is_dev_default = legacy.is_none() && versioned.is_none();
        if secret_is_dev_default && production {
            return Err(ConfigError::MissingSecret);
        }
        // With only versioned secrets there is no legacy one; with nothing, the dev secret.
        let legacy_secret = match (&legacy, &versioned) {
            (Some(l), _) => Some(l.as_str()),
            (None, None) => Some(DEV_SECRET),
            (None, Some(_)) => None,
        };
        let secrets =
            Keyring::parse(versioned.as_deref(), legacy_secret).map_err(|e| ConfigError::Invalid {
                name: "CASTELLAN_SECRETS",
                reason: e.to_string(),
            })?;
        let secret = secrets.current().to_owned();
        if production && get("SMTP_URL").is_none() {
            let mail_log = get("MAIL_LOG").unwrap_or_else(|| DEFAULT_MAIL_LOG.to_owned());
            return Err(ConfigError::MissingSmtp(mail_log));
        }
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        let trusted_origins = list(get("TRUSTED_ORIGINS"));
        let ip_headers = get("IP_ADDRESS_HEADERS")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_else(|| vec!["x-forwarded-for".to_owned()]);
        let social = social::from_vars(&get, &flag)?;
        let hosted_pages = hosted_pages(&get, &flag)?;

        Ok(Self {
            host,
            port,
            base_url,
            base_path: "/api/auth".to_owned(),
            secret,
            secrets,
            secret_is_dev_default,
            production,
            database_url: get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://./data/castellan.db?mode=rwc".to_owned()),
            redis_url: get("REDIS_URL"),
            redis_prefix: get("REDIS_PREFIX").unwrap_or_else(|| "castellan:".to_owned()),
            smtp_url: get("SMTP_URL"),
            mail_from: get("MAIL_FROM").unwrap_or_else(|| "Castellan <no-reply@localhost>".to_owned()),
            mail_log: get("MAIL_LOG").unwrap_or_else(|| DEFAULT_MAIL_LOG.to_owned()),
            trusted_origins,
            app_name: get("APP_NAME").unwrap_or_else(|| "Castellan".to_owned()),
            session: SessionSettings::default(),
            password: PasswordPolicy::default(),
            rate_limit: RateLimitSettings {
                enabled: flag("RATE_LIMIT", true),
                ip_headers,
                trusted_proxies: parse_proxies(&get("TRUSTED_PROXIES").unwrap_or_default())?,
            },
            send_verification_on_sign_up: flag("EMAIL_VERIFICATION_ON_SIGN_UP", true),
            require_email_verification: flag("REQUIRE_EMAIL_VERIFICATION", false),
            auto_sign_in_after_verification: flag("AUTO_SIGN_IN_AFTER_VERIFICATION", false),
            delete_account_verification: flag("DELETE_ACCOUNT_VERIFICATION", false),
            run_migrations: flag("RUN_MIGRATIONS", true),
            admin_emails: get("ADMIN_EMAILS")
                .into_iter()
                .chain(get("ADMIN_EMAIL"))
                .flat_map(|v| v.split(',').map(|e| e.trim().to_lowercase()).collect::<Vec<_>>())
                .filter(|e| !e.is_empty())
                .collect(),
            impersonation_requires_reason: flag("IMPERSONATION_REQUIRE_REASON", false),
            jwt_ttl: Duration::from_secs(15 * 60),
            jwt_key_rotation: Duration::from_secs(
                parsed(
                    get("JWT_KEY_ROTATION_SECONDS"),
                    "JWT_KEY_ROTATION_SECONDS",
                    SECONDS,
                )?
                .unwrap_or(30 * 24 * 3600),
            ),
            max_body_bytes: 64 * 1024,
            sso: SsoSettings {
                domain_verification: flag("SSO_DOMAIN_VERIFICATION", true),
                dns_server: parsed(
                    get("SSO_DNS_SERVER").filter(|v| v != "system"),
                    "SSO_DNS_SERVER",
                    SOCKET_ADDRESS,
                )?,
                token_prefix: "better-auth-token".to_owned(),
                default_role: get("SSO_DEFAULT_ROLE").unwrap_or_else(|| "member".to_owned()),
                trusted_idp_origins: list(get("SSO_TRUSTED_IDP_ORIGINS")),
                clock_skew: Duration::from_secs(
                    parsed(get("SSO_CLOCK_SKEW_SECONDS"), "SSO_CLOCK_SKEW_SECONDS", SECONDS)?.unwrap_or(120),
                ),
            },
            social,
            magic_link: MagicLinkSettings {
                enabled: flag("MAGIC_LINK", true),
                expires_in_secs: ranged(
                    get("MAGIC_LINK_EXPIRES_IN"),
                    "MAGIC_LINK_EXPIRES_IN",
                    300,
                    1..=86_400,
                )?,
                disable_sign_up: flag("MAGIC_LINK_DISABLE_SIGN_UP", false),
            },
            hosted_pages,
            session_cookie_cache: if flag("SESSION_COOKIE_CACHE", false) {
                let secs = ranged(
                    get("SESSION_COOKIE_CACHE_MAX_AGE"),
                    "SESSION_COOKIE_CACHE_MAX_AGE",
                    300,
                    1..=86_400,
                )?;
                Some(Duration::from_secs(secs))
            } else {
                None
            },
            email_otp: EmailOtpSettings {
                enabled: flag("EMAIL_OTP", true),
                length: ranged(get("EMAIL_OTP_LENGTH"), "EMAIL_OTP_LENGTH", 6, 4..=12)?,
                expires_in_secs: ranged(
                    get("EMAIL_OTP_EXPIRES_IN"),
                    "EMAIL_OTP_EXPIRES_IN",
                    300,
                    1..=86_400,
                )?,
                allowed_attempts: ranged(
                    get("EMAIL_OTP_ALLOWED_ATTEMPTS"),
                    "EMAIL_OTP_ALLOWED_ATTEMPTS",
                    3,
                    1..=20,
                )?,
                disable_sign_up: flag("EMAIL_OTP_DISABLE_SIGN_UP", false),
                change_email: flag("EMAIL_OTP_CHANGE_EMAIL", false),
                verify_current_email: flag("EMAIL_OTP_VERIFY_CURRENT_EMAIL", false),
            },
            passkey: PasskeySettings {
                rp_id: get("PASSKEY_RP_ID"),
                rp_name: get("PASSKEY_RP_NAME"),
                origins: list(get("PASSKEY_ORIGIN"))
                    .iter()
                    .map(|o| {
                        Url::parse(o)
                            .ok()
                            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                            .map(|u| u.origin().ascii_serialization())
                            .ok_or_else(|| ConfigError::Invalid {
                                name: "PASSKEY_ORIGIN",
                                reason: format!("{o:?} is not an http(s) origin"),
                            })
                    })
                    .collect::<Result<_, _>>()?,
            },
            metrics_addr: parsed(get("METRICS_ADDR"), "METRICS_ADDR", SOCKET_ADDRESS)?,
            webhooks: WebhookSettings {
                allow_private_targets: flag("WEBHOOK_ALLOW_PRIVATE_TARGETS", false),
                retry_schedule: parse_schedule(
                    get("WEBHOOK_RETRY_SCHEDULE")
                        .as_deref()
                        .unwrap_or(DEFAULT_WEBHOOK_RETRY_SCHEDULE),
                )?,
                timeout: Duration::from_secs(ranged(
                    get("WEBHOOK_TIMEOUT_SECONDS"),
                    "WEBHOOK_TIMEOUT_SECONDS",
                    15,
                    1..=60,
                )?),
            },
        })
    }

    /// `https` deployments get `__Secure-` cookies, as Better Auth does.
    #[must_use]
    pub fn secure_cookies(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// The origin of the public URL, e.g. `http://localhost:3000`.
    #[must_use]
    pub fn origin(&self) -> String {
        self.base_url.origin().ascii_serialization()
    }

    /// The public URL of the auth API, e.g. `http://localhost:3000/api/auth`.
    #[must_use]
    pub fn auth_url(&self) -> String {
        format!("{}{}", self.origin(), self.base_path)
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("base_url", &self.base_url.as_str())
            .field("secret", &"<redacted>")
            .field("secrets", &self.secrets)
            .field("production", &self.production)
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_log", &self.mail_log)
            .field("trusted_origins", &self.trusted_origins)
            .field("rate_limit", &self.rate_limit)
            .field("session", &self.session)
            .field("require_email_verification", &self.require_email_verification)
            .field("admin_emails", &self.admin_emails)
            .field("sso", &self.sso)
            .field("social", &self.social)
            .field("webhooks", &self.webhooks)
            .finish_non_exhaustive()
    }
}

/// A URL with its password replaced, for logs.
#[must_use]
pub fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

fn parse_origin(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::Invalid {
        name: "BASE_URL",
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::Invalid {
            name: "BASE_URL",
            reason: "must be an http(s) URL".to_owned(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn webhook_retry_schedules_are_durations_with_units() {
        let s = Settings::from_vars(HashMap::new()).unwrap();
        assert_eq!(s.webhooks.retry_schedule.len(), 7);
        assert_eq!(s.webhooks.retry_schedule[1], Duration::from_secs(300));
        assert!(!s.webhooks.allow_private_targets);
        let s = Settings::from_vars(vars(&[("WEBHOOK_RETRY_SCHEDULE", "150ms, 2s")])).unwrap();
        assert_eq!(
            s.webhooks.retry_schedule,
            [Duration::from_millis(150), Duration::from_secs(2)]
        );
        for bad in ["5", "5x", "s", ",", "99999999999999999h"] {
            assert!(
                Settings::from_vars(vars(&[("WEBHOOK_RETRY_SCHEDULE", bad)])).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn the_theme_takes_only_values_safe_to_write_into_a_page() {
        let s = Settings::from_vars(HashMap::new()).unwrap();
        assert!(s.hosted_pages.enabled);
        assert_eq!((s.hosted_pages.color, s.hosted_pages.logo_url), (None, None));
        let s = Settings::from_vars(vars(&[
            ("THEME_COLOR", "#0B5FFF"),
            ("THEME_LOGO_URL", "/static/logo.svg"),
            ("HOSTED_PAGES", "0"),
        ]))
        .unwrap();
        assert_eq!(s.hosted_pages.color.as_deref(), Some("#0B5FFF"));
        assert_eq!(s.hosted_pages.logo_url.as_deref(), Some("/static/logo.svg"));
        assert!(!s.hosted_pages.enabled);
        for color in ["red", "#12", "#1234567", "#12345g", "#fff; background: url(x)"] {
            assert!(
                Settings::from_vars(vars(&[("THEME_COLOR", color)])).is_err(),
                "{color}"
            );
        }
        for logo in [
            "http://cdn.example/logo.png",
            "//evil.example/x.png",
            "javascript:alert(1)",
            "/a\"onload=\"x",
        ] {
            assert!(
                Settings::from_vars(vars(&[("THEME_LOGO_URL", logo)])).is_err(),
                "{logo}"
            );
        }
        assert!(Settings::from_vars(vars(&[("THEME_CSS_FILE", "/no/such/file.css")])).is_err());
    }

    #[test]
    fn defaults_work_on_a_fresh_machine() {
        let s = Settings::from_vars(HashMap::new()).unwrap();
        assert_eq!(s.port, 3000);
        assert_eq!(s.auth_url(), "http://localhost:3000/api/auth");
        assert!(s.secret_is_dev_default);
        assert!(s.database_url.starts_with("sqlite://"));
        assert!(!s.secure_cookies());
    }

    #[test]
    fn better_auth_names_are_read_too() {
        let s = Settings::from_vars(vars(&[
            ("BETTER_AUTH_URL", "https://auth.example.com"),
            ("BETTER_AUTH_SECRET", "s3cret"),
        ]))
        .unwrap();
        assert_eq!(s.origin(), "https://auth.example.com");
        assert_eq!(s.secret, "s3cret");
        assert!(s.secure_cookies());
    }

    #[test]
    fn versioned_secrets_put_the_first_in_charge_and_keep_the_rest() {
        let s = Settings::from_vars(vars(&[
            ("BETTER_AUTH_SECRETS", "3:third-secret,2:second-secret"),
            ("CASTELLAN_SECRET", "first-secret"),
        ]))
        .unwrap();
        assert_eq!(s.secret, "third-secret");
        assert!(!s.secret_is_dev_default);
        assert_eq!(
            s.secrets.verification_keys().collect::<Vec<_>>(),
            ["third-secret", "second-secret", "first-secret"]
        );
        let only_versioned = Settings::from_vars(vars(&[("CASTELLAN_SECRETS", "1:v1-secret")])).unwrap();
        assert_eq!(
            only_versioned.secrets.verification_keys().collect::<Vec<_>>(),
            ["v1-secret"]
        );
        let err = Settings::from_vars(vars(&[("CASTELLAN_SECRETS", "one:hunter2")])).unwrap_err();
        assert!(err.to_string().contains("CASTELLAN_SECRETS"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn production_requires_a_secret() {
        let err = Settings::from_vars(vars(&[("CASTELLAN_ENV", "production")])).unwrap_err();
        assert!(matches!(err, ConfigError::MissingSecret));
    }

    #[test]
    fn production_requires_smtp_rather_than_a_mail_file() {
        let err = Settings::from_vars(vars(&[
            ("CASTELLAN_ENV", "production"),
            ("CASTELLAN_SECRET", "s"),
        ]))
        .unwrap_err();
        assert!(
            matches!(&err, ConfigError::MissingSmtp(file) if file == DEFAULT_MAIL_LOG),
            "{err}"
        );
        assert!(err.to_string().starts_with("SMTP_URL must be set"), "{err}");
        let ok = Settings::from_vars(vars(&[
            ("CASTELLAN_ENV", "production"),
            ("CASTELLAN_SECRET", "s"),
            ("SMTP_URL", "smtp://mail.example.com:587"),
        ]));
        assert!(ok.is_ok());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = Settings::from_vars(vars(&[
            ("CASTELLAN_SECRET", "top-secret-value"),
            ("DATABASE_URL", "postgres://app:hunter2@db/castellan"),
        ]))
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("top-secret-value"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://app:redacted@db/castellan"), "{shown}");
    }

    #[test]
    fn a_bad_port_is_refused() {
        assert!(Settings::from_vars(vars(&[("PORT", "http")])).is_err());
    }
}
