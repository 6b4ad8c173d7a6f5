//! Readiness (`/ready`) and request ids: what an operator's load balancer and log search see.

use castellan_e2e::{Backend, Storage, TestApp};
use serde_json::json;

both_backends! {
    async fn readiness_names_each_dependency_and_is_never_rate_limited(app: TestApp) {
        let b = app.browser();
        let redis = if app.storage.backend == Backend::PostgresRedis { "ok" } else { "not configured" };
        for i in 0..120 {
            let r = b.get("/ready").await;
            assert_eq!(
                (r.status, r.json.clone()),
                (200, json!({"status": "ready", "checks": {"database": "ok", "redis": redis}})),
                "request {i}"
            );
        }
    }

    async fn every_answer_carries_a_request_id(app: TestApp) {
        let b = app.browser();
        let plain = b.get("/ok").await;
        let id = plain.headers["x-request-id"].to_str().unwrap().to_owned();
        assert!(castellan_http::request_id::is_acceptable(&id) && id.len() >= 16, "{id}");
        assert_ne!(b.get("/ok").await.headers["x-request-id"], id.as_str(), "a new id per request");
        // A caller's plain id is kept, end to end; anything else is replaced.
        let kept = b
            .send(reqwest::Client::new().get(format!("{}/ok", app.auth_url)).header("x-request-id", "lb-7f3a.1"))
            .await;
        assert_eq!(kept.headers["x-request-id"], "lb-7f3a.1");
        let replaced = b
            .send(reqwest::Client::new().get(format!("{}/ok", app.auth_url)).header("x-request-id", "a b;c"))
            .await;
        assert_ne!(replaced.headers["x-request-id"], "a b;c");
        // Refusals carry one too.
        let refused = b.post("/sign-in/email", &json!({"email": 5})).await;
        assert_eq!(refused.status, 400);
        assert!(refused.headers.contains_key("x-request-id"));
    }
}

/// A Redis of the test's own on a free port, stopped halfway: readiness turns 503 and says
/// which dependency is down, while liveness still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_redis_goes_away_and_liveness_does_not() {
    let port = castellan_e2e::free_tcp_port();
    let Ok(mut redis) = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
    else {
        assert!(!castellan_e2e::required_services(), "CI needs redis-server");
        castellan_e2e::skip("redis-server is not installed");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let storage = Storage::fresh(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_on(storage, &[("REDIS_URL", &url), ("REDIS_PREFIX", "ready-test:")]).await;
    let b = app.browser();
    assert_eq!(b.get("/ready").await.json["checks"]["redis"], "ok");

    redis.kill().unwrap();
    redis.wait().unwrap();
    let down = b.get("/ready").await;
    assert_eq!(
        (down.status, down.json.clone()),
        (
            503,
            json!({"status": "unavailable", "checks": {"database": "ok", "redis": "unavailable"}})
        )
    );
    assert_eq!(
        b.get("/ok").await.status,
        200,
        "liveness does not depend on Redis"
    );
}
