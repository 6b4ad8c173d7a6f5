//! What the logs of a real run hold: with `LOG_FORMAT=json`, one JSON object per line, each
//! access line inside its request's span (the `x-request-id` the client got), and no password,
//! session token, reset token or secret anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use std::io::Read as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const SECRET: &str = "log-hygiene-secret-0123456789abcdef";
const PASSWORD: &str = "Log-hygiene-password-1";
const NEW_PASSWORD: &str = "Log-hygiene-password-2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_logs_json_lines_with_request_ids_and_no_secrets() {
    let dir = std::env::temp_dir().join(format!("castellan-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let mail_log = dir.join("mail.jsonl");
    let mut server = Command::new(env!("CARGO_BIN_EXE_castellan"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("PORT", port.to_string())
        .env("BASE_URL", &origin)
        .env("CASTELLAN_SECRET", SECRET)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join("c.db").display()),
        )
        .env("MAIL_LOG", &mail_log)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let api = |path: &str| format!("{origin}/api/auth{path}");
    for _ in 0..200 {
        if client.get(api("/ok")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let post = |path: &str, body: Value| {
        client
            .post(api(path))
            .header("origin", &origin)
            .json(&body)
            .send()
    };
    let email = "logs@example.test";
    let signed_up = post(
        "/sign-up/email",
        json!({"email": email, "password": PASSWORD, "name": "Logs"}),
    )
    .await
    .unwrap();
    let request_id = signed_up.headers()["x-request-id"].to_str().unwrap().to_owned();
    let session: Value = signed_up.json().await.unwrap();
    let session_token = session["token"].as_str().unwrap().to_owned();
    post(
        "/sign-in/email",
        json!({"email": email, "password": "a-wrong-password"}),
    )
    .await
    .unwrap();
    post(
        "/request-password-reset",
        json!({"email": email, "redirectTo": "/reset"}),
    )
    .await
    .unwrap();
    let mut reset_token = None;
    for _ in 0..100 {
        reset_token = std::fs::read_to_string(&mail_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["kind"] == "reset-password")
            .and_then(|m| m["token"].as_str().map(str::to_owned));
        if reset_token.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reset_token = reset_token.expect("no reset mail");
    // The token in a path: only the route pattern may be logged.
    client
        .get(api(&format!(
            "/reset-password/{reset_token}?callbackURL=%2Freset"
        )))
        .send()
        .await
        .unwrap();
    let reset = post(
        "/reset-password",
        json!({"token": reset_token, "newPassword": NEW_PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(reset.status(), 200);
    client.get(api("/get-session")).send().await.unwrap();

    server.kill().unwrap();
    let mut logs = String::new();
    server.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    server.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}")))
        .collect();
    let served: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "served")
        .collect();
    assert!(served.len() >= 7, "{logs}");
    assert!(
        served
            .iter()
            .any(|l| l["span"]["request_id"] == request_id.as_str()
                && l["fields"]["route"] == "/api/auth/sign-up/email"),
        "the sign-up's access line carries the id its answer had: {logs}"
    );
    assert!(
        served
            .iter()
            .any(|l| l["fields"]["route"] == "/api/auth/reset-password/{token}"),
        "{logs}"
    );
    for secret in [
        SECRET,
        PASSWORD,
        NEW_PASSWORD,
        session_token.as_str(),
        reset_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs: {secret}");
    }
}
