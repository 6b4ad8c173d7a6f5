//! `GET /metrics` of a real process: request counts by route pattern and status, sign-in
//! outcomes, rate-limit refusals, cache lookups and pool gauges; on its own address with
//! `METRICS_ADDR`. Its own test binary, so the process-wide counters hold only this run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use serde_json::json;

mod support;

use support::{free_port, scratch, start};

/// The value of the sample `line` (name and labels exactly as exposed), if present.
fn sample(text: &str, line: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_sign_ins_refusals_and_cache_lookups() {
    let dir = scratch("metrics");
    let port = free_port();
    let _server = start(&dir, port, &[]).await;
    let origin = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{origin}/api/auth{path}"))
            .header("origin", &origin)
            .json(&body)
            .send()
    };
    let (email, password) = ("metrics@example.test", "Metrics-password-1");
    let up = post(
        "/sign-up/email",
        json!({"email": email, "password": password, "name": "M"}),
    )
    .await
    .unwrap();
    assert_eq!(up.status(), 200);
    let wrong = json!({"email": email, "password": "not-the-password"});
    let statuses = [
        post("/sign-in/email", wrong.clone())
            .await
            .unwrap()
            .status()
            .as_u16(),
        post("/sign-in/email", json!({"email": email, "password": password}))
            .await
            .unwrap()
            .status()
            .as_u16(),
        post("/sign-in/email", wrong.clone())
            .await
            .unwrap()
            .status()
            .as_u16(),
        post("/sign-in/email", wrong).await.unwrap().status().as_u16(),
    ];
    assert_eq!(
        statuses,
        [401, 200, 401, 429],
        "Better Auth's 3 per 10 s on sign-in"
    );
    for _ in 0..3 {
        let s = client
            .get(format!("{origin}/api/auth/get-session"))
            .send()
            .await
            .unwrap();
        assert_eq!(s.status(), 200);
    }
    let reset = client
        .get(format!(
            "{origin}/api/auth/reset-password/some-secret-token?callbackURL=/x"
        ))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_redirection() || reset.status().is_client_error());

    let res = reqwest::get(format!("{origin}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    let value = |line: &str| sample(&text, line).unwrap_or_else(|| panic!("no sample {line}:\n{text}"));
    assert_eq!(
        value(r#"castellan_sign_ins_total{method="email",outcome="failure"}"#),
        2.0
    );
    assert_eq!(
        value(r#"castellan_sign_ins_total{method="email",outcome="success"}"#),
        1.0
    );
    assert_eq!(
        value(r#"castellan_sign_ins_total{method="social",outcome="success"}"#),
        0.0,
        "listed before use"
    );
    assert_eq!(
        value(r#"castellan_rate_limited_total{route="/api/auth/sign-in/email"}"#),
        1.0
    );
    assert_eq!(
        value(r#"castellan_http_requests_total{method="POST",route="/api/auth/sign-in/email",status="401"}"#),
        2.0
    );
    assert_eq!(
        value(r#"castellan_http_requests_total{method="POST",route="/api/auth/sign-up/email",status="200"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"castellan_http_request_duration_seconds_count{method="POST",route="/api/auth/sign-in/email"}"#
        ),
        4.0
    );
    assert!(
        value(r#"castellan_session_cache_total{result="hit"}"#) >= 2.0,
        "the cache answers repeated get-session"
    );
    assert!(value(r#"castellan_db_pool_connections{state="max"}"#) >= 1.0);
    assert!(sample(&text, "castellan_mail_outbox_waiting").is_some());
    assert!(
        text.contains(r#"route="/api/auth/reset-password/{token}""#),
        "route patterns"
    );
    assert!(!text.contains("some-secret-token"), "never a path");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_addr_serves_metrics_alone_on_its_own_address() {
    let dir = scratch("metrics-addr");
    let (port, metrics_port) = (free_port(), free_port());
    let _server = start(
        &dir,
        port,
        &[("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))],
    )
    .await;
    let on_main = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(on_main.status(), 404, "not on the public port");
    let own = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(
        own.text()
            .await
            .unwrap()
            .contains("# TYPE castellan_http_requests_total counter")
    );
    let api = reqwest::get(format!("http://127.0.0.1:{metrics_port}/api/auth/ok"))
        .await
        .unwrap();
    assert_eq!(api.status(), 404, "the metrics address serves nothing else");
    let _ = std::fs::remove_dir_all(&dir);
}
