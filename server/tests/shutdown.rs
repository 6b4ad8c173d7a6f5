//! SIGTERM on a real process: requests in flight finish with their answers, the queued mail is
//! sent before the process exits, and it exits 0 within the budget.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{free_port, scratch, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_and_sends_the_queued_mail() {
    let dir = scratch("shutdown");
    let port = free_port();
    let mut server = start(&dir, port, &[]).await;
    let origin = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let email = "shutdown@example.test";
    let up = client
        .post(format!("{origin}/api/auth/sign-up/email"))
        .header("origin", &origin)
        .json(&json!({"email": email, "password": "Shutdown-password-1", "name": "S"}))
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);

    // Without a session, send-verification-email answers no sooner than 500 ms: these are in
    // flight when the signal comes.
    let in_flight: Vec<_> = (0..3)
        .map(|_| {
            let (client, origin) = (client.clone(), origin.clone());
            tokio::spawn(async move {
                let res = client
                    .post(format!("{origin}/api/auth/send-verification-email"))
                    .header("origin", &origin)
                    .json(&json!({"email": email}))
                    .send()
                    .await?;
                Ok::<_, reqwest::Error>((res.status().as_u16(), res.json::<Value>().await?))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());

    for request in in_flight {
        let (status, body) = request.await.unwrap().expect("an in-flight request was cut off");
        assert_eq!((status, body), (200, json!({"status": true})));
    }
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(45),
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status:?}");
    let refused = client.get(format!("{origin}/api/auth/ok")).send().await;
    assert!(refused.is_err(), "nothing listens any more");

    let mails: Vec<Value> = std::fs::read_to_string(dir.join("mail.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verification = mails
        .iter()
        .filter(|m| m["kind"] == "verification" && m["to"] == email)
        .count();
    assert_eq!(
        verification, 4,
        "the sign-up mail and the three requested ones, all sent before exiting: {mails:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
