//! OTLP export of a real process: with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a collector
//! (a loopback stand-in that keeps what it is sent), the request spans arrive as OTLP/HTTP
//! protobuf under the service name, and nothing secret is in them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::json;
use support::{free_port, scratch, start};

type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

async fn collect(req: HttpRequest, body: web::Bytes, received: web::Data<Received>) -> HttpResponse {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    received.lock().unwrap().push((content_type, body.to_vec()));
    HttpResponse::Ok().content_type("application/x-protobuf").finish()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_without_secrets() {
    let received: Received = Arc::default();
    let sink = received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let collector_port = listener.local_addr().unwrap().port();
    let collector = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(sink.clone()))
            .route("/v1/traces", web::post().to(collect))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let collector_handle = collector.handle();
    tokio::spawn(collector);

    let dir = scratch("telemetry");
    let port = free_port();
    let mut server = start(
        &dir,
        port,
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{collector_port}"),
            ),
            ("OTEL_SERVICE_NAME", "castellan-under-test".to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ],
    )
    .await;
    let origin = format!("http://127.0.0.1:{port}");
    let password = "Telemetry-password-secret-1";
    let up = reqwest::Client::new()
        .post(format!("{origin}/api/auth/sign-up/email"))
        .header("origin", &origin)
        .json(&json!({"email": "otel@example.test", "password": password, "name": "O"}))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let request_id = up.headers()["x-request-id"].to_str().unwrap().to_owned();
    let token = up.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Stopping flushes what is still buffered.
    std::process::Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    let stopped = Instant::now();
    while server.0.try_wait().unwrap().is_none() {
        assert!(stopped.elapsed() < Duration::from_secs(30), "did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    collector_handle.stop(true).await;

    let batches = received.lock().unwrap().clone();
    assert!(!batches.is_empty(), "no spans reached the collector");
    assert!(
        batches.iter().all(|(ct, _)| ct == "application/x-protobuf"),
        "OTLP/HTTP protobuf"
    );
    let all: Vec<u8> = batches.into_iter().flat_map(|(_, b)| b).collect();
    assert!(contains(&all, "castellan-under-test"), "the service name");
    assert!(contains(&all, "request"), "the request span");
    assert!(
        contains(&all, &request_id),
        "the span carries the request id the client got"
    );
    assert!(contains(&all, "/api/auth/sign-up/email"), "the route pattern");
    for secret in [password, token.as_str(), "support-secret-0123456789abcdef0123"] {
        assert!(!contains(&all, secret), "{secret} was exported");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
