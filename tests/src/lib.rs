//! The end-to-end harness: starts the real server on port 0 with a fresh database (an SQLite
//! file, or a new Postgres database plus a fresh Redis key prefix) and drives it over HTTP like
//! a browser would. Postgres and Redis tests are skipped when those servers are not reachable,
//! unless `CI=true`, where they are required.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test harness"
)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use castellan_config::Settings;
use reqwest::cookie::{CookieStore as _, Jar};
use serde_json::Value;

pub const PASSWORD: &str = "Correct-Horse-7-battery";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    PostgresRedis,
}

fn admin_pg_url() -> String {
    std::env::var("CASTELLAN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn redis_url() -> String {
    std::env::var("CASTELLAN_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn required_services() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A port in `first..first + span`, below Linux's ephemeral range (32768+), that `bindable`
/// accepts. Binding port 0 draws from the ephemeral range, so no server another test binds to
/// port 0 can take a port handed out here before its owner binds it. `next` spreads test
/// processes over the range and, within one, hands ports out in turn (never twice).
pub(crate) fn port_below_ephemeral(
    first: u32,
    span: u32,
    next: &std::sync::atomic::AtomicU32,
    bindable: impl Fn(u16) -> bool,
) -> u16 {
    use std::sync::atomic::Ordering;
    let _ = next.compare_exchange(
        0,
        std::process::id() % span + 1,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    loop {
        let port = u16::try_from(first + next.fetch_add(1, Ordering::Relaxed) % span).unwrap();
        if bindable(port) {
            return port;
        }
    }
}

/// A TCP port free on loopback, for a helper server the test starts itself a moment later
/// (seen with port 0: a React build's server found its port taken by a Castellan under test).
#[must_use]
pub fn free_tcp_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    port_below_ephemeral(10_000, 10_000, &NEXT, |port| {
        TcpListener::bind(("127.0.0.1", port)).is_ok()
    })
}

/// Reports a test that could not run here (a service or tool is missing outside CI) as skipped,
/// not passed: a line on the terminal (written past libtest's capture, so it shows even when
/// the test "passes") and a line in `target/test-skips.log`, which `.ci/run` counts.
pub fn skip(reason: &str) {
    use std::io::Write as _;
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let line = format!("SKIPPED {test}: {reason}");
    let _ = writeln!(std::io::stderr(), "{line}");
    let log = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-skips.log");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

pub fn unique(tag: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    format!("{tag}{}", hex::encode(b))
}

/// A fresh, uniquely named Postgres database, dropped when the guard goes.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    async fn create() -> Option<Self> {
        use sea_orm::ConnectionTrait as _;
        let admin =
            match tokio::time::timeout(Duration::from_secs(5), sea_orm::Database::connect(admin_pg_url()))
                .await
            {
                Ok(Ok(db)) => db,
                other => {
                    if required_services() {
                        panic!(
                            "CI=true but Postgres is unreachable at {}: {other:?}",
                            admin_pg_url()
                        );
                    }
                    skip(&format!("Postgres unreachable at {}", admin_pg_url()));
                    return None;
                }
            };
        let name = unique("castellan_t_");
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin_pg_url()).unwrap();
        url.set_path(&name);
        Some(Self {
            url: url.to_string(),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sea_orm::ConnectionTrait as _;
                if let Ok(admin) = sea_orm::Database::connect(admin_pg_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                        .await;
                }
            });
        })
        .join();
    }
}

async fn redis_reachable() -> bool {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), client.get_multiplexed_async_connection()).await,
        Ok(Ok(_))
    )
}

/// A scratch directory, removed when the last handle goes.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a test's server keeps its data.
pub struct Storage {
    pub backend: Backend,
    pub database_url: String,
    pub redis_prefix: String,
    pub dir: PathBuf,
    _scratch: Arc<ScratchDir>,
    _pg: Option<Arc<PgDatabase>>,
}

impl Storage {
    /// A fresh store for `backend`, or `None` when Postgres/Redis are unavailable outside CI.
    pub async fn fresh(backend: Backend) -> Option<Self> {
        let dir = std::env::temp_dir().join(unique("castellan-e2e-"));
        std::fs::create_dir_all(&dir).unwrap();
        let scratch = Arc::new(ScratchDir(dir.clone()));
        match backend {
            Backend::Sqlite => Some(Self {
                backend,
                database_url: format!("sqlite://{}?mode=rwc", dir.join("castellan.db").display()),
                redis_prefix: String::new(),
                dir,
                _scratch: scratch,
                _pg: None,
            }),
            Backend::PostgresRedis => {
                let pg = PgDatabase::create().await?;
                if !redis_reachable().await {
                    if required_services() {
                        panic!("CI=true but Redis is unreachable at {}", redis_url());
                    }
                    skip(&format!("Redis unreachable at {}", redis_url()));
                    return None;
                }
                Some(Self {
                    backend,
                    database_url: pg.url.clone(),
                    redis_prefix: format!("{}:", unique("t")),
                    dir,
                    _scratch: scratch,
                    _pg: Some(Arc::new(pg)),
                })
            }
        }
    }

    /// Another handle on the same store, for a second replica.
    #[must_use]
    pub fn share(&self) -> Self {
        Self {
            backend: self.backend,
            database_url: self.database_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            dir: self.dir.clone(),
            _scratch: self._scratch.clone(),
            _pg: self._pg.clone(),
        }
    }
}

pub struct TestApp {
    pub port: u16,
    pub origin: String,
    pub auth_url: String,
    pub mail_log: PathBuf,
    pub secret: String,
    pub storage: Storage,
}

impl TestApp {
    /// A server on a fresh store; `None` when the backend is unavailable outside CI.
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> Option<Self> {
        let storage = Storage::fresh(backend).await?;
        Some(Self::spawn_on(storage, extra).await)
    }

    /// A server (replica) on an existing store.
    pub async fn spawn_on(storage: Storage, extra: &[(&str, &str)]) -> Self {
        // `CASTELLAN_TEST_LOG=warn` (any filter) shows the servers' logs.
        if let Ok(filter) = std::env::var("CASTELLAN_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let origin = format!("http://127.0.0.1:{port}");
        let mail_log = storage.dir.join(format!("mail-{port}.jsonl"));
        let secret = "e2e-secret-0123456789abcdef0123456789".to_owned();
        let mut vars: HashMap<String, String> = [
            ("HOST", "127.0.0.1".to_owned()),
            ("PORT", port.to_string()),
            ("BASE_URL", origin.clone()),
            ("CASTELLAN_SECRET", secret.clone()),
            ("DATABASE_URL", storage.database_url.clone()),
            ("MAIL_LOG", mail_log.display().to_string()),
            // Each simulated browser has its own X-Forwarded-For address, so only tests about
            // rate limiting share a bucket.
            ("RATE_LIMIT", "1".to_owned()),
            // The simulated browsers' X-Forwarded-For comes from loopback, as from a proxy.
            ("TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if storage.backend == Backend::PostgresRedis {
            vars.insert("REDIS_URL".into(), redis_url());
            vars.insert("REDIS_PREFIX".into(), storage.redis_prefix.clone());
        }
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let settings = Settings::from_vars(vars).unwrap();
        let app = castellan::build_on(listener, settings).await.unwrap();
        tokio::spawn(app.run_until_stopped());
        Self {
            port,
            auth_url: format!("{origin}/api/auth"),
            origin,
            mail_log,
            secret,
            storage,
        }
    }

    /// A new browser with its own cookie jar and client address.
    #[must_use]
    pub fn browser(&self) -> Browser {
        Browser::new(self)
    }

    /// A database connection to the server's store, for assertions on rows.
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        castellan_data::connect(&self.storage.database_url).await.unwrap()
    }

    pub fn mails(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.mail_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The newest captured mail of `kind` to `to`, waiting up to five seconds for it.
    pub async fn wait_mail(&self, kind: &str, to: &str) -> Value {
        for _ in 0..100 {
            if let Some(m) = self
                .mails()
                .into_iter()
                .rev()
                .find(|m| m["kind"] == kind && m["to"] == to)
            {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} mail to {to} in {}", self.mail_log.display());
    }

    /// Signs up a fresh user in a fresh browser.
    pub async fn new_user(&self, tag: &str) -> (Browser, String) {
        let b = self.browser();
        let email = format!("{}@e2e.test", unique(tag));
        let r = b
            .post(
                "/sign-up/email",
                &serde_json::json!({"email": email, "password": PASSWORD, "name": tag}),
            )
            .await;
        assert_eq!(r.status, 200, "sign-up failed: {}", r.text);
        (b, email)
    }
}

pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Response {
    #[must_use]
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    #[must_use]
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
}

/// A simulated browser: cookie jar, `Origin` of the app, its own client address.
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
    auth_url: String,
    origin: String,
    /// The `Origin` it sends: the app's, unless [`Browser::from_origin`] says otherwise.
    origin_header: String,
    pub ip: String,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut b = [0u8; 3];
        getrandom::fill(&mut b).unwrap();
        let ip = format!("198.{}.{}.{}", 18 + (b[0] & 1), b[1], b[2] % 254 + 1);
        Self {
            client,
            jar,
            auth_url: app.auth_url.clone(),
            origin: app.origin.clone(),
            origin_header: app.origin.clone(),
            ip,
        }
    }

    /// The same browser on a page of another (trusted) origin, e.g. `http://localhost:<port>`
    /// where WebAuthn needs a domain rather than an address.
    #[must_use]
    pub fn from_origin(mut self, origin: &str) -> Self {
        origin.clone_into(&mut self.origin_header);
        self
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.auth_url))
            .header("origin", &self.origin_header)
            .header("x-forwarded-for", &self.ip)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Response {
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    /// A POST with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Response {
        self.send(
            self.request(reqwest::Method::POST, path)
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// Any method, with extra headers and an optional raw body.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Response {
        let mut req = self.request(method, path);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.body(body);
        }
        self.send(req).await
    }

    /// A GET of an absolute URL with this browser's cookies (another replica behind the same
    /// public origin).
    pub async fn get_url(&self, url: &str) -> Response {
        self.send(self.client.get(url).header("x-forwarded-for", &self.ip))
            .await
    }

    /// A cross-site form POST to an absolute URL, as an IdP's auto-submitting form makes it.
    pub async fn post_form_url(&self, url: &str, form: String) -> Response {
        self.send(
            self.client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", &self.ip)
                .body(form),
        )
        .await
    }

    /// The current value of one of this browser's cookies (still percent-encoded).
    #[must_use]
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url = self.origin.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// Sets a cookie as another tab or a stolen token would.
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url = self.origin.parse().unwrap();
        self.jar.add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    pub async fn session(&self) -> Value {
        self.get("/get-session").await.json
    }
}

pub mod github;
pub mod peers;
pub mod proxy;
pub mod webhooks;

/// A virtualenv `target/examples/<name>` with `requirements` installed (once per change of the
/// file; one test at a time); `None` without Python or PyPI outside CI. `what` names the user
/// in the skip message.
#[must_use]
pub fn python_venv(name: &str, requirements: &std::path::Path, what: &str) -> Option<PathBuf> {
    use std::process::Command;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/examples");
    std::fs::create_dir_all(&root).unwrap();
    let lock = std::fs::File::create(root.join(format!("{name}.lock"))).unwrap();
    lock.lock().unwrap();
    let venv = root.join(name);
    let wanted = std::fs::read_to_string(requirements).unwrap();
    let stamp = venv.join("requirements.stamp");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Some(venv);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    let installed = made
        && Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "-r"])
            .arg(requirements)
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            !required_services(),
            "CI needs Python 3 with venv and PyPI for {what}"
        );
        skip(&format!("python3 venv or PyPI not available for {what}"));
        return None;
    }
    std::fs::write(&stamp, wanted).unwrap();
    Some(venv)
}

/// Organization helpers over the HTTP API.
pub mod orgs {
    use serde_json::{Value, json};

    use super::{Browser, TestApp, unique};

    /// Creates an organization owned by `owner`; returns the response body.
    pub async fn create(owner: &Browser, tag: &str) -> Value {
        let slug = unique(&format!("{tag}-"));
        let r = owner
            .post(
                "/organization/create",
                &json!({"name": format!("Org {tag}"), "slug": slug}),
            )
            .await;
        assert_eq!(r.status, 200, "create org: {}", r.text);
        r.json
    }

    /// Invites a fresh user with `role` and has them accept; returns their browser, email and
    /// member row.
    pub async fn add_member(
        app: &TestApp,
        owner: &Browser,
        org_id: &str,
        role: &str,
        tag: &str,
    ) -> (Browser, String, Value) {
        let (member, email) = app.new_user(tag).await;
        let inv = owner
            .post(
                "/organization/invite-member",
                &json!({"email": email, "role": role, "organizationId": org_id}),
            )
            .await;
        assert_eq!(inv.status, 200, "invite: {}", inv.text);
        let acc = member
            .post(
                "/organization/accept-invitation",
                &json!({"invitationId": inv.json["id"]}),
            )
            .await;
        assert_eq!(acc.status, 200, "accept: {}", acc.text);
        (member, email, acc.json["member"].clone())
    }
}

/// Whether Debian's Chromium is installed for the browser tests; outside CI its absence is a
/// reported skip, in CI a failure.
#[must_use]
pub fn chromium_available() -> bool {
    if std::path::Path::new("/usr/bin/chromium").exists() {
        return true;
    }
    assert!(!required_services(), "CI=true but /usr/bin/chromium is missing");
    skip("no /usr/bin/chromium");
    false
}

/// Node test suites (the Better Auth client suites) run against a started server.
pub mod node_suite {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::{Arc, LazyLock, Mutex};

    /// A private copy of a suite's `files` under `target/<name>`, so its `npm ci` never writes
    /// into shared/ or the source tree.
    #[must_use]
    pub fn private_copy(src: &Path, name: &str, files: &[&str]) -> PathBuf {
        let dest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target").join(name);
        std::fs::create_dir_all(&dest).unwrap();
        for f in files {
            std::fs::copy(src.join(f), dest.join(f)).unwrap();
        }
        dest
    }

    /// One run at a time per suite directory: `run.sh` installs with `npm ci`, and two installs
    /// at once in one directory break each other (`ENOTEMPTY`), as the SQLite and the
    /// Postgres + Redis runs of one suite would on a fresh checkout.
    fn lock_for(dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
        static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
            LazyLock::new(Mutex::default);
        LOCKS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(dir.to_path_buf())
            .or_default()
            .clone()
    }

    /// Runs one browser scenario of `tests/browser` (`script`, a copy per backend under
    /// `target/`) with `env`, plus `SCREENSHOT_DIR` (`target/screenshots/<backend>`, returned),
    /// and returns the JSON line it printed. Fails the test when the script fails.
    pub async fn browser_scenario(
        script: &str,
        backend: crate::Backend,
        mut env: Vec<(&'static str, String)>,
    ) -> (serde_json::Value, PathBuf) {
        let name = script.trim_end_matches(".mjs");
        let backend = format!("{backend:?}").to_lowercase();
        let dir = private_copy(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("browser"),
            &format!("browser-{name}-{backend}"),
            &["package.json", "package-lock.json", "run.sh", script],
        );
        let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/screenshots")
            .join(&backend);
        std::fs::create_dir_all(&shots).unwrap();
        env.push(("SCREENSHOT_DIR", shots.display().to_string()));
        let (last, ok) = run(dir, vec![script.to_owned()], env).await;
        assert!(ok, "the browser scenario {script} failed: {last}");
        (serde_json::from_str(&last).unwrap(), shots)
    }

    /// Runs the suite's `run.sh` with `args` and `env`; returns its last non-empty stdout line
    /// (`N passed, M failed`) after printing its output, and whether it exited 0.
    pub async fn run(dir: PathBuf, args: Vec<String>, env: Vec<(&'static str, String)>) -> (String, bool) {
        let lock = lock_for(&dir);
        let _one_at_a_time = lock.lock().await;
        let out = tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .arg(dir.join("run.sh"))
                .args(args)
                .envs(env)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("{stdout}");
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        let last = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned();
        (last, out.status.success())
    }
}

/// A TOTP code from oathtool for the base32 secret of an `otpauth://` URI; `None` without
/// oathtool outside CI.
pub fn oathtool(uri: &str) -> Option<String> {
    oathtool_ahead(uri, 0)
}

/// The code oathtool gives `steps` 30-second steps from now (the server accepts one step
/// ahead): a second sign-in soon after a first needs a code not yet used.
pub fn oathtool_ahead(uri: &str, steps: i64) -> Option<String> {
    let secret = url::Url::parse(uri)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    // oathtool's own clock, moved: `now + 30 seconds`.
    let at = format!("now + {} seconds", steps * 30);
    match std::process::Command::new("oathtool")
        .args(["--totp", "-b", &secret, "-N", &at])
        .output()
    {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        _ => {
            assert!(std::env::var("CI").is_err(), "CI needs oathtool");
            None
        }
    }
}
