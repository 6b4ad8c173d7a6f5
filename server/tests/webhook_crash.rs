//! A `castellan` process killed (SIGKILL) while a webhook delivery is in flight loses nothing:
//! another process on the same database delivers the interrupted event again, with the same
//! `webhook-id`, once its lease has run out, and then the events queued behind it, in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use support::{free_port, scratch, start};

/// What the receiver saw: `webhook-id`, body, and whether it answered 2xx.
type Seen = Arc<Mutex<Vec<(String, Value, bool)>>>;

#[derive(Clone)]
struct Receiver {
    seen: Seen,
    /// While set, requests are recorded and then never answered.
    hold: Arc<AtomicBool>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let held = r.hold.load(Ordering::SeqCst);
    r.seen.lock().unwrap().push((id, body, !held));
    if held {
        tokio::time::sleep(Duration::from_secs(120)).await;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::NO_CONTENT
}

async fn wait_for(seen: &Seen, within: Duration, done: impl Fn(&[(String, Value, bool)]) -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done(&seen.lock().unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the receiver did not get what was expected: {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_delivery_loses_no_event() {
    let receiver = Receiver {
        seen: Arc::default(),
        hold: Arc::new(AtomicBool::new(false)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = scratch("webhook-crash");
    let env = [
        (
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("shared.db").display()),
        ),
        ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1".to_owned()),
        ("WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms".to_owned()),
        ("WEBHOOK_TIMEOUT_SECONDS", "1".to_owned()),
    ];
    let port = free_port();
    let mut first = start(&dir, port, &env).await;
    let origin = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{origin}/api/auth{path}"))
            .header("origin", &origin)
            .json(&body)
            .send()
    };
    let up = post(
        "/sign-up/email",
        json!({"email": "crash@example.test", "password": "Crash-password-1", "name": "C"}),
    )
    .await
    .unwrap();
    assert_eq!(up.status(), 200);
    let org: Value = post("/organization/create", json!({"name": "Crash", "slug": "crash"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org_id = org["id"].as_str().unwrap().to_owned();
    let hook = post(
        "/webhook/create",
        json!({"url": hook_url, "eventTypes": ["team.create"], "organizationId": org_id}),
    )
    .await
    .unwrap();
    assert_eq!(hook.status(), 200);

    receiver.hold.store(true, Ordering::SeqCst);
    for name in ["first", "second", "third"] {
        let r = post(
            "/organization/create-team",
            json!({"name": name, "organizationId": org_id}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_for(&receiver.seen, Duration::from_secs(10), |s| !s.is_empty()).await;
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let interrupted = receiver.seen.lock().unwrap()[0].0.clone();
    receiver.hold.store(false, Ordering::SeqCst);

    let _second = start(&dir, free_port(), &env).await;
    // The interrupted delivery is claimed again once its lease (timeout + margin) has run out.
    wait_for(&receiver.seen, Duration::from_secs(60), |s| {
        s.iter().filter(|(_, _, taken)| *taken).count() >= 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = receiver.seen.lock().unwrap().clone();
    let taken: Vec<&(String, Value, bool)> = seen.iter().filter(|(_, _, taken)| *taken).collect();
    let names: Vec<&str> = taken
        .iter()
        .map(|(_, body, _)| body["data"]["details"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["first", "second", "third"], "every event, once, in order");
    assert_eq!(
        taken[0].0, interrupted,
        "the interrupted delivery keeps its webhook-id"
    );
    assert_eq!(seen[0].1["data"]["details"]["name"], "first");
}
