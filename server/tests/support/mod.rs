//! Starting the real `castellan` binary for the tests of this folder.

#![allow(dead_code, reason = "each test binary uses part of it")]

use std::process::{Child, Command, Stdio};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `castellan` process; killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `castellan` on `port`, on a SQLite file in `dir`, with its dev mailbox at `dir/mail.jsonl`;
/// returns once it answers.
pub async fn start(dir: &std::path::Path, port: u16, extra: &[(&str, String)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_castellan"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("CASTELLAN_SECRET", "support-secret-0123456789abcdef0123")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.join(format!("{port}.db")).display()),
        )
        .env("MAIL_LOG", dir.join("mail.jsonl"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().unwrap());
    for _ in 0..200 {
        if reqwest::get(format!("http://127.0.0.1:{port}/api/auth/ok"))
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("castellan did not start on {port}");
}

/// A fresh scratch folder for one test.
pub fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("castellan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
