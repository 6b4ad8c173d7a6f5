//! A webhook receiver on loopback that a test can make fail or slow down, and verification of
//! what it received with the Standard Webhooks reference library (PyPI `standardwebhooks`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// Whether the receiver answered 2xx (took it).
    pub accepted: bool,
}

impl Received {
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct State {
    got: Mutex<Vec<Received>>,
    failing: AtomicBool,
    delay_ms: AtomicU64,
}

/// Answers 204, or 503 while failing; records everything.
pub struct Receiver {
    pub url: String,
    state: Arc<State>,
    server: tokio::task::AbortHandle,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let accepted = !state.failing.load(Ordering::SeqCst);
    state.got.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        accepted,
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
        .abort_handle();
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            server,
        }
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state.delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// What was accepted, in arrival order.
    #[must_use]
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }

    /// Waits until `done` holds of what was accepted (at most `within`).
    pub async fn wait_until(&self, within: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        self.wait_for(within, true, done).await
    }

    /// Waits until `done` holds of every request received, accepted or refused (at most
    /// `within`).
    pub async fn wait_until_received(
        &self,
        within: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        self.wait_for(within, false, done).await
    }

    async fn wait_for(
        &self,
        within: Duration,
        accepted_only: bool,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = if accepted_only {
                self.accepted()
            } else {
                self.received()
            };
            if done(&got) {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver did not get what was expected in {within:?}; got: {:#?}",
                got.iter().map(|r| r.json()["type"].clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Verifies each delivery with `secret` through `standardwebhooks`: one result per delivery,
/// `"ok"` or why not. `None` without Python outside CI.
pub async fn verify_independently(secret: &str, deliveries: &[Received]) -> Option<Vec<String>> {
    let requirements = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("webhooks/requirements.txt");
    let venv = tokio::task::spawn_blocking(move || {
        crate::python_venv(
            "standardwebhooks-venv",
            &requirements,
            "the webhook signature tests",
        )
    })
    .await
    .unwrap()?;
    let input: String = deliveries
        .iter()
        .map(|d| {
            let headers: HashMap<&str, &str> = [
                ("webhook-id", d.id.as_str()),
                ("webhook-timestamp", d.timestamp.as_str()),
                ("webhook-signature", d.signature.as_str()),
            ]
            .into();
            format!(
                "{}\n",
                json!({"secret": secret, "headers": headers, "body": d.body})
            )
        })
        .collect();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("webhooks/verify.py");
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let mut child = std::process::Command::new(venv.join("bin/python"))
            .arg(script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}
