//! Real identity providers and a real DNS server on loopback, for the SSO tests: the
//! OpenID-certified `oidc-provider` and the pysaml2 SAML IdP from `../shared/peers`, and dnsmasq
//! serving the TXT records of domain verification. Each is a child process killed on drop.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn shared_peers() -> PathBuf {
    std::env::var_os("CASTELLAN_PEERS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers"),
        PathBuf::from,
    )
}

fn available(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A private copy of the peers under target/ (their installs never write into shared/), warmed
/// once per test process so concurrent starts find their dependencies installed. `None` when a
/// prerequisite is missing outside CI.
fn prepared() -> Option<PathBuf> {
    static PREPARED: Mutex<Option<Option<PathBuf>>> = Mutex::new(None);
    let mut guard = PREPARED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(done) = guard.as_ref() {
        return done.clone();
    }
    let src = shared_peers();
    let ready = src.join("oidc/server.js").exists()
        && available("node", "--version")
        && available("python3", "--version")
        && available("xmlsec1", "--version");
    if !ready {
        assert!(
            !ci(),
            "CI=true but the SSO peers, node, python3 or xmlsec1 are missing"
        );
        crate::skip("SSO peers not available");
        *guard = Some(None);
        return None;
    }
    let dest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peers");
    std::fs::create_dir_all(&dest).unwrap();
    // Test processes (nextest runs one per test) prepare the copy one at a time, and never
    // rewrite a file that is already current: another process may be running its start.sh,
    // which bash reads as it goes.
    let lock = std::fs::File::create(dest.join(".prepare.lock")).unwrap();
    lock.lock().unwrap();
    for peer in ["oidc", "saml"] {
        let (from, to) = (src.join(peer), dest.join(peer));
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_file()
                && std::fs::read(entry.path()).ok() != std::fs::read(&target).ok()
            {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    // One start per peer installs its dependencies (npm ci, a Python venv) if needed.
    for peer in [
        Peer::start_in(&dest, Kind::Oidc, &[]),
        Peer::start_in(&dest, Kind::Saml, &[]),
    ] {
        drop(peer);
    }
    drop(lock);
    *guard = Some(Some(dest.clone()));
    Some(dest)
}

#[derive(Clone, Copy)]
enum Kind {
    Oidc,
    Saml,
}

/// A running IdP; killed on drop.
pub struct Peer {
    child: Child,
    /// The peer's `*_READY` line.
    pub ready: Value,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    fn start_in(dir: &Path, kind: Kind, env: &[(&str, &str)]) -> Self {
        let (folder, port_var, marker) = match kind {
            Kind::Oidc => ("oidc", "OIDC_PORT", "OIDC_READY "),
            Kind::Saml => ("saml", "SAML_PORT", "SAML_READY "),
        };
        let log = std::fs::File::create(dir.join(format!("{folder}-{}.log", crate::unique("peer")))).unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(dir.join(folder).join("start.sh"))
            .arg("--foreground")
            .env(port_var, "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(json) = line.strip_prefix(marker) {
                        break serde_json::from_str(json).unwrap();
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!("the {folder} peer exited before it was ready; see target/peers/{folder}-*.log");
                }
            }
        };
        // Keep draining its stdout so the peer never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, ready }
    }

    /// The OIDC provider (`OIDC_*` settings in `env`), or `None` when peers are unavailable.
    pub async fn oidc(env: &[(&str, &str)]) -> Option<Self> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let dir = prepared()?;
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            Some(Self::start_in(&dir, Kind::Oidc, &env))
        })
        .await
        .unwrap()
    }

    /// The SAML IdP, or `None` when peers are unavailable.
    pub async fn saml() -> Option<Self> {
        tokio::task::spawn_blocking(|| Some(Self::start_in(&prepared()?, Kind::Saml, &[])))
            .await
            .unwrap()
    }

    /// The OIDC issuer URL.
    #[must_use]
    pub fn issuer(&self) -> String {
        self.ready["issuer"].as_str().unwrap().to_owned()
    }

    /// The SAML IdP's base URL.
    #[must_use]
    pub fn base_url(&self) -> String {
        self.ready["base_url"].as_str().unwrap().to_owned()
    }

    #[must_use]
    pub fn entity_id(&self) -> String {
        self.ready["entity_id"].as_str().unwrap().to_owned()
    }
}

/// A UDP port on loopback for a DNS server started later. It is taken below Linux's ephemeral
/// range (32768+), so no socket of the system is handed it meanwhile, and never twice in this
/// process, so two tests never share one.
#[must_use]
pub fn free_udp_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    crate::port_below_ephemeral(20_000, 12_000, &NEXT, |port| {
        UdpSocket::bind(("127.0.0.1", port)).is_ok()
    })
}

/// dnsmasq answering only the given TXT records, on loopback; killed on drop.
pub struct Dns {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a DNS server answers on `port` (any answer: a bare query for the root's NS).
fn answers_dns(port: u16) -> bool {
    let Ok(socket) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(50)));
    // id 0x4341, recursion desired, one question: ". NS IN".
    let query = [0x43, 0x41, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1];
    if socket.send_to(&query, ("127.0.0.1", port)).is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    matches!(socket.recv_from(&mut buf), Ok((n, _)) if n >= 12 && buf[..2] == query[..2])
}

fn dnsmasq_binary() -> Option<&'static str> {
    ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

impl Dns {
    /// Serves `records` (name → text) on `port`; `None` when dnsmasq is missing outside CI.
    pub async fn serve(port: u16, records: &[(&str, &str)]) -> Option<Self> {
        let Some(binary) = dnsmasq_binary() else {
            assert!(!ci(), "CI=true but dnsmasq is missing");
            crate::skip("dnsmasq not available");
            return None;
        };
        let mut cmd = Command::new(binary);
        cmd.args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--conf-file=/dev/null",
            "--pid-file=",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--log-facility=-",
        ])
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (name, text) in records {
            cmd.arg(format!("--txt-record={name},{text}"));
        }
        let mut child = cmd.spawn().unwrap();
        // Ready once it answers a query (binding the port to probe it could steal it).
        for _ in 0..200 {
            if answers_dns(port) {
                return Some(Self {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("dnsmasq on port {port} exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        panic!("dnsmasq did not answer on port {port} within 10 s");
    }
}

/// The query parameters of a URL.
#[must_use]
pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The user's browser at the IdP: its own cookie jar, redirects read one at a time.
pub struct IdpBrowser {
    client: reqwest::Client,
}

impl Default for IdpBrowser {
    fn default() -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }
}

fn location(base: &str, res: &reqwest::Response) -> Option<String> {
    let loc = res.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    Some(url::Url::parse(base).ok()?.join(loc).ok()?.to_string())
}

impl IdpBrowser {
    /// Walks the OIDC provider's login and consent pages from `authorize_url` until it
    /// redirects back to the relying party; returns that callback URL.
    pub async fn oidc_login(&self, authorize_url: &str, email: &str, password: &str) -> String {
        let mut url = authorize_url.to_owned();
        for _ in 0..12 {
            if url.contains("/api/auth/") {
                return url;
            }
            if url.contains("/interaction/") {
                let page = self.client.get(&url).send().await.unwrap().text().await.unwrap();
                let res = if page.contains("id=\"login\"") {
                    self.client
                        .post(format!("{url}/login"))
                        .form(&[("email", email), ("password", password)])
                        .send()
                        .await
                        .unwrap()
                } else {
                    self.client.post(format!("{url}/confirm")).send().await.unwrap()
                };
                url = location(&url, &res)
                    .unwrap_or_else(|| panic!("no redirect after {url}: {}", res.status()));
                continue;
            }
            let res = self.client.get(&url).send().await.unwrap();
            url = location(&url, &res).unwrap_or_else(|| panic!("no redirect from {url}: {}", res.status()));
        }
        panic!("the OIDC login did not come back to the relying party: {url}");
    }

    /// Starts an OIDC login and cancels it at the IdP's login page; returns the callback URL the
    /// IdP sends the browser back to (with `error=access_denied`).
    pub async fn oidc_abort(&self, authorize_url: &str) -> String {
        let res = self.client.get(authorize_url).send().await.unwrap();
        let interaction = location(authorize_url, &res).unwrap();
        let res = self
            .client
            .post(format!("{interaction}/abort"))
            .send()
            .await
            .unwrap();
        let mut url = location(&interaction, &res).unwrap();
        for _ in 0..6 {
            if url.contains("/api/auth/") {
                return url;
            }
            let res = self.client.get(&url).send().await.unwrap();
            url = location(&url, &res).unwrap();
        }
        panic!("the aborted login did not come back: {url}");
    }

    /// Follows the SAML redirect-binding URL as `user`, with the peer's test switches
    /// (`fault`, `sign`); returns `{acs_url, SAMLResponse, RelayState}`.
    pub async fn saml_login(&self, sso_url: &str, user: &str, switches: &[(&str, &str)]) -> Value {
        let mut url = url::Url::parse(sso_url).unwrap();
        url.query_pairs_mut()
            .append_pair("user", user)
            .append_pair("format", "json")
            .extend_pairs(switches);
        let res = self.client.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200, "the SAML IdP refused the request");
        res.json().await.unwrap()
    }

    /// An unsolicited (IdP-initiated) response for the SP `sp_entity_id`.
    pub async fn saml_unsolicited(&self, idp_base: &str, sp_entity_id: &str, acs: &str, user: &str) -> Value {
        let mut url = url::Url::parse(&format!("{idp_base}/sso/idp-initiated")).unwrap();
        url.query_pairs_mut()
            .append_pair("sp", sp_entity_id)
            .append_pair("user", user)
            .append_pair("acs", acs)
            .append_pair("format", "json");
        let res = self.client.get(url).send().await.unwrap();
        assert_eq!(
            res.status(),
            200,
            "the SAML IdP refused the IdP-initiated request"
        );
        res.json().await.unwrap()
    }

    /// A raw GET (the IdP's certificate, its metadata).
    pub async fn fetch(&self, url: &str) -> String {
        self.client.get(url).send().await.unwrap().text().await.unwrap()
    }

    /// Queues an ID-token fault at the OIDC provider for its next token.
    pub async fn queue_id_token_fault(&self, issuer: &str, fault: &str) {
        let res = self
            .client
            .post(format!("{issuer}/test/id-token-fault"))
            .form(&[("fault", fault)])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "queueing {fault}: {}", res.status());
    }
}
