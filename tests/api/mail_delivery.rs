//! Mail goes out over SMTP when `SMTP_URL` is set: a minimal SMTP sink on loopback receives the
//! password-reset mail with its link.

use std::sync::{Arc, Mutex};

use castellan_data::entity::mail_outbox;
use castellan_e2e::{Backend, TestApp};
use sea_orm::EntityTrait as _;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// Accepts SMTP sessions and records each message's envelope recipients and data.
async fn smtp_sink() -> (u16, Inbox) {
    smtp_sink_on(TcpListener::bind("127.0.0.1:0").await.unwrap())
}

/// [`smtp_sink`] on a given listener (a port the server was told about before the sink existed).
fn smtp_sink_on(listener: TcpListener) -> (u16, Inbox) {
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

/// The newest message in `inbox`, waiting up to `secs` seconds for one.
async fn first_delivered(inbox: &Inbox, secs: u64) -> Option<(Vec<String>, String)> {
    for _ in 0..secs * 20 {
        if let Some(m) = inbox.lock().unwrap().first().cloned() {
            return Some(m);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

per_backend! {
    async fn mail_queued_while_smtp_is_down_goes_out_when_it_returns(backend) {
        // A port with nothing behind it yet: the mail server is down.
        let port = castellan_e2e::free_tcp_port();
        let smtp = format!("smtp://127.0.0.1:{port}");
        let Some(app) = TestApp::spawn_with(backend, &[("SMTP_URL", &smtp), ("EMAIL_VERIFICATION_ON_SIGN_UP", "0")]).await else {
            return;
        };
        let (_, email) = app.new_user("outage").await;
        let r = app.browser().post("/request-password-reset", &json!({"email": email, "redirectTo": "/reset"})).await;
        assert_eq!(r.status, 200, "the request does not wait for the mail server");

        // The mail waits in the outbox, sealed, with the failure recorded.
        let db = app.db().await;
        let mut queued = Vec::new();
        for _ in 0..100 {
            queued = mail_outbox::Entity::find().all(&db).await.unwrap();
            if queued.first().is_some_and(|m| m.attempts >= 1 && m.last_error.is_some()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(queued.len(), 1, "{queued:?}");
        let row = &queued[0];
        assert!(row.attempts >= 1 && row.last_error.is_some(), "{row:?}");
        assert!(row.dead_at.is_none());
        assert!(!row.payload.contains(&email) && !row.payload.contains("reset-password"), "sealed at rest");

        // The mail server comes back: the next attempt delivers it, once.
        let (_, inbox) = smtp_sink_on(TcpListener::bind(("127.0.0.1", port)).await.unwrap());
        let (rcpt, data) = first_delivered(&inbox, 20).await.expect("the queued mail never went out");
        assert_eq!(rcpt, vec![email.clone()]);
        assert!(data.contains("Subject: Reset your password"), "{data}");
        for _ in 0..100 {
            if mail_outbox::Entity::find().all(&db).await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(mail_outbox::Entity::find().all(&db).await.unwrap().is_empty(), "delivered mail leaves the outbox");
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(inbox.lock().unwrap().len(), 1, "sent exactly once");
    }
}
