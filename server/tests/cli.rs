//! The `castellan` binary's command line: `migrate`, `admin create`, `healthcheck`, refusal to
//! start in production without a secret or without SMTP, and unknown commands.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::Command;

fn castellan() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_castellan"));
    for var in [
        "CASTELLAN_SECRET",
        "BETTER_AUTH_SECRET",
        "CASTELLAN_ENV",
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_URL",
        "PORT",
        "HOST",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// The user behind `email` is an admin whose credential account holds `password`.
async fn assert_admin_with_password(url: &str, email: &str, password: &str) {
    let db = castellan_data::connect(url).await.unwrap();
    let user = castellan_data::repo::users::find_by_email(&db, email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role.as_deref(), Some("admin"));
    let stored = castellan_data::repo::accounts::find_credential(&db, &user.id)
        .await
        .unwrap()
        .unwrap()
        .password
        .unwrap();
    assert_eq!(
        castellan_crypto::password::verify(password, &stored),
        castellan_crypto::PasswordCheck::Match
    );
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("castellan-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn migrate_creates_better_auths_tables_and_exits() {
    use castellan_data::ConnectionTrait as _;
    let dir = scratch("migrate");
    let url = format!("sqlite://{}?mode=rwc", dir.join("nested/castellan.db").display());
    let out = castellan()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Running it again is a no-op.
    assert!(
        castellan()
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
            .status
            .success()
    );

    let db = castellan_data::connect(&url).await.unwrap();
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        ))
        .await
        .unwrap();
    let tables: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    for table in ["account", "seaql_migrations", "session", "user", "verification"] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn production_without_a_secret_refuses_to_start() {
    let out = castellan()
        .env("CASTELLAN_ENV", "production")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CASTELLAN_SECRET"), "{stderr}");
}

#[test]
fn unknown_commands_are_refused() {
    let out = castellan().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn help_and_version_work_on_every_command_without_starting_anything() {
    let out = castellan().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "migrate", "admin", "secrets", "config", "healthcheck"] {
        assert!(help.contains(command), "{command} missing from --help: {help}");
    }
    // `serve --help` used to start the server: it must print and exit at once, even with a
    // database it could not open.
    for args in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["admin", "create", "--help"],
        &["secrets", "rotate", "--help"],
        &["config", "check", "--help"],
        &["healthcheck", "--version"],
    ] {
        let out = castellan()
            .args(args)
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
    }
    let version = castellan().arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("castellan {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn config_check_validates_and_redacts() {
    let out = castellan()
        .args(["config", "check"])
        .env("CASTELLAN_SECRET", "a-very-private-secret-value")
        .env("GITHUB_CLIENT_ID", "gh-client")
        .env("GITHUB_CLIENT_SECRET", "gh-very-private")
        .env("DATABASE_URL", "postgres://app:db-password@127.0.0.1/castellan")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("gh-client") && stdout.ends_with("configuration ok\n"),
        "{stdout}"
    );
    for secret in ["a-very-private-secret-value", "gh-very-private", "db-password"] {
        assert!(!stdout.contains(secret), "{secret} printed: {stdout}");
    }
    let bad = castellan()
        .args(["config", "check"])
        .env("PORT", "abc")
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(3),
        "a configuration error has its own exit code"
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(
        stderr.trim(),
        "castellan: configuration error: PORT is not valid: \"abc\" is not a port number"
    );
}

#[test]
fn migrate_status_and_dry_run_change_nothing_that_matters() {
    let dir = scratch("migrate-status");
    let url = format!("sqlite://{}?mode=rwc", dir.join("castellan.db").display());
    let run = |args: &[&str]| {
        let out = castellan().args(args).env("DATABASE_URL", &url).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = run(&["migrate", "--dry-run"]);
    assert!(
        before.lines().all(|l| l.starts_with("would apply m")) && before.lines().count() >= 7,
        "{before}"
    );
    assert!(
        run(&["migrate", "--status"])
            .lines()
            .all(|l| l.starts_with("pending "))
    );
    assert_eq!(run(&["migrate"]).trim(), "migrations applied");
    assert!(
        run(&["migrate", "--status"])
            .lines()
            .all(|l| l.starts_with("applied "))
    );
    assert_eq!(run(&["migrate", "--dry-run"]), "", "nothing left to apply");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn admin_create_makes_a_first_admin_who_can_sign_in() {
    let dir = scratch("admin");
    let url = format!("sqlite://{}?mode=rwc", dir.join("castellan.db").display());
    let out = castellan()
        .args([
            "admin",
            "create",
            "--email",
            "Boss@Example.test",
            "--password",
            "Boss-password-1",
        ])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("admin ready: user "));
    assert_admin_with_password(&url, "boss@example.test", "Boss-password-1").await;
    let bad = castellan()
        .args(["admin", "create", "--email", "x@y.test", "--password", "short"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn production_without_smtp_refuses_to_start() {
    let out = castellan()
        .env("CASTELLAN_ENV", "production")
        .env("CASTELLAN_SECRET", "a-production-secret")
        .env_remove("SMTP_URL")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SMTP_URL must be set"), "{stderr}");
}

#[tokio::test]
async fn admin_create_reads_the_password_from_stdin() {
    use std::io::Write as _;
    let dir = scratch("admin-stdin");
    let url = format!("sqlite://{}?mode=rwc", dir.join("castellan.db").display());
    let mut child = castellan()
        .args([
            "admin",
            "create",
            "--email",
            "ops@example.test",
            "--password-stdin",
        ])
        .env("DATABASE_URL", &url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Piped-password-1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The newline ends the password; it is not part of it.
    assert_admin_with_password(&url, "ops@example.test", "Piped-password-1").await;
    let empty = castellan()
        .args(["admin", "create", "--email", "x@example.test", "--password-stdin"])
        .env("DATABASE_URL", &url)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("the password is empty"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn healthcheck_passes_against_a_running_server_and_fails_without_one() {
    let dir = scratch("health");
    let url = format!("sqlite://{}?mode=rwc", dir.join("castellan.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let probe = || {
        castellan()
            .arg("healthcheck")
            .env("PORT", &port)
            .output()
            .unwrap()
    };
    let before = probe();
    assert!(!before.status.success());
    assert!(String::from_utf8_lossy(&before.stderr).contains("no server on 127.0.0.1"));

    let mut server = castellan()
        .env("PORT", &port)
        .env("HOST", "127.0.0.1")
        .env("DATABASE_URL", &url)
        .env("MAIL_LOG", dir.join("mail.jsonl"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let healthy = loop {
        if probe().status.success() {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(healthy, "the server never answered /ok");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
#[allow(
    clippy::disallowed_methods,
    reason = "compared with the wall clock the binary used"
)]
async fn keys_rotate_replaces_the_signing_key_and_keeps_or_withdraws_the_old_one() {
    use sea_orm::EntityTrait as _;
    let dir = scratch("keys");
    let url = format!("sqlite://{}?mode=rwc", dir.join("castellan.db").display());
    let rotate = |args: &[&str]| {
        let out = castellan().args(args).env("DATABASE_URL", &url).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    rotate(&["migrate"]);
    let first = rotate(&["keys", "rotate"]);
    assert!(
        first.ends_with("0 earlier keys published until their tokens expire"),
        "{first}"
    );
    let second = rotate(&["keys", "rotate"]);
    assert!(
        second.ends_with("1 earlier keys published until their tokens expire"),
        "{second}"
    );
    let db = castellan_data::connect(&url).await.unwrap();
    let keys = castellan_data::entity::jwks::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let live: Vec<_> = keys.iter().filter(|k| k.expires_at.is_none()).collect();
    let retiring: Vec<_> = keys
        .iter()
        .filter(|k| k.expires_at.is_some_and(|e| e > now))
        .collect();
    assert_eq!(
        (keys.len(), live.len(), retiring.len()),
        (2, 1, 1),
        "one signing, one still published"
    );
    assert!(second.contains(&live[0].id), "{second}");

    let third = rotate(&["keys", "rotate", "--revoke-old"]);
    assert!(third.ends_with("2 earlier keys withdrawn now"), "{third}");
    let keys = castellan_data::entity::jwks::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let published = keys
        .iter()
        .filter(|k| k.expires_at.is_none_or(|e| e > chrono::Utc::now()))
        .count();
    assert_eq!(published, 1, "only the new key is published after a revocation");
    let _ = std::fs::remove_dir_all(&dir);
}
