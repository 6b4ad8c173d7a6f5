//! The `castellan` binary's command line: `migrate`, refusal to start without a secret in
//! production, and unknown commands.

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
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "warn");
    cmd
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
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command"));
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
    let db = castellan_data::connect(&url).await.unwrap();
    let user = castellan_data::repo::users::find_by_email(&db, "boss@example.test")
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
        castellan_crypto::password::verify("Boss-password-1", &stored),
        castellan_crypto::PasswordCheck::Match
    );
    let bad = castellan()
        .args(["admin", "create", "--email", "x@y.test", "--password", "short"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
