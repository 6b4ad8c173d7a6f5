//! Mail goes out over SMTP when `SMTP_URL` is set: a minimal SMTP sink on loopback receives the
//! password-reset mail with its link.

use std::sync::{Arc, Mutex};

use castellan_e2e::{Backend, TestApp};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Accepts SMTP sessions and records each message's envelope recipients and data.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<(Vec<String>, String)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let store = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            store
                                .lock()
                                .unwrap()
                                .push((std::mem::take(&mut rcpt), std::mem::take(&mut data)));
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, inbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_mail_is_delivered_over_smtp() {
    let (port, inbox) = smtp_sink().await;
    let smtp = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("SMTP_URL", &smtp),
            ("EMAIL_VERIFICATION_ON_SIGN_UP", "0"),
            ("MAIL_FROM", "Castellan <auth@e2e.test>"),
        ],
    )
    .await
    .unwrap();
    let (_, email) = app.new_user("smtp").await;
    let r = app
        .browser()
        .post(
            "/request-password-reset",
            &json!({"email": email, "redirectTo": "/reset"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let mut delivered = None;
    for _ in 0..100 {
        if let Some(m) = inbox.lock().unwrap().first().cloned() {
            delivered = Some(m);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (rcpt, data) = delivered.expect("no mail reached the SMTP sink");
    assert_eq!(rcpt, vec![email.clone()]);
    assert!(data.contains("Subject: Reset your password"), "{data}");
    assert!(
        data.contains(&format!("{}/reset-password/", app.auth_url)),
        "{data}"
    );
    assert!(data.contains("From: Castellan <auth@e2e.test>"), "{data}");
    assert!(
        !app.mail_log.exists(),
        "with SMTP configured, nothing goes to the dev mailbox"
    );
}
