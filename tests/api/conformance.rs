//! The official Better Auth client (../shared/conformance) against a real Castellan, on both
//! backends, with rate limiting expected. Skipped when Node or the suite is missing, unless
//! `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use castellan_e2e::{Backend, TestApp, node_suite};

/// Every scenario of the suite.
const SCENARIOS: &[&str] = &[
    "signup-signin-session",
    "update-user",
    "change-password",
    "email-verification",
    "password-reset",
    "rate-limit",
    "org-create-and-list",
    "org-set-active",
    "org-invite-accept",
    "org-member-role-update-and-permissions",
    "bearer-token",
    "jwt-jwks",
    "admin-list-ban-unban",
    "admin-impersonate-and-stop",
    "two-factor-enable-verify-signin",
];

/// The suite's admin account: the server makes it an admin through `ADMIN_EMAILS`.
const ADMIN_EMAIL: &str = "admin@conformance.test";
const ADMIN_PASSWORD: &str = "Admin-password-123";

fn suite_dir() -> PathBuf {
    std::env::var_os("CASTELLAN_CONFORMANCE_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance"),
        PathBuf::from,
    )
}

/// A private copy of the suite under `target/<name>`, so its `npm ci` never writes into shared/.
pub(crate) fn prepared_suite(name: &str) -> Option<PathBuf> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let src = suite_dir();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !src.join("run.mjs").exists() || !node {
        assert!(
            !ci,
            "CI=true but the conformance suite ({}) or node is missing",
            src.display()
        );
        castellan_e2e::skip("conformance suite or node not available");
        return None;
    }
    let files = [
        "run.mjs",
        "lib.mjs",
        "package.json",
        "package-lock.json",
        "run.sh",
    ];
    let dest = node_suite::private_copy(&src, name, &files);
    Some(dest)
}

async fn run_suite(backend: Backend) {
    let Some(dir) = tokio::task::spawn_blocking(|| prepared_suite("conformance"))
        .await
        .unwrap()
    else {
        return;
    };
    let Some(app) = TestApp::spawn_with(backend, &[("ADMIN_EMAILS", ADMIN_EMAIL)]).await else {
        return;
    };
    let (last, success) = node_suite::run(
        dir,
        SCENARIOS.iter().map(|s| (*s).to_owned()).collect(),
        vec![
            ("BASE_URL", app.origin.clone()),
            ("MAIL_LOG", app.mail_log.display().to_string()),
            ("EXPECT_RATE_LIMIT", "1".to_owned()),
            ("ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
            ("ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ],
    )
    .await;
    assert_eq!(
        last,
        format!("{} passed, 0 failed", SCENARIOS.len()),
        "conformance on {backend:?}"
    );
    assert!(success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_passes_on_sqlite() {
    run_suite(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_passes_on_postgres_and_redis() {
    run_suite(Backend::PostgresRedis).await;
}
