//! End-to-end tests: one binary, one module per area. Most tests run twice, on SQLite and on
//! Postgres + Redis, each time against a fresh server and a fresh database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::disallowed_methods,
    reason = "tests; they read the wall clock like the server they drive"
)]

/// Declares each test once and runs it on both backends.
macro_rules! both_backends {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: castellan_e2e::TestApp) $body
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(castellan_e2e::TestApp::spawn(castellan_e2e::Backend::Sqlite).await.unwrap()).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() {
                    if let Some(app) = castellan_e2e::TestApp::spawn(castellan_e2e::Backend::PostgresRedis).await {
                        run(app).await
                    }
                }
            }
        )*
    };
}

/// Declares each test once and runs it on both backends, for tests that start their own
/// server(s) with particular settings: the body gets the backend and returns early when it is
/// unavailable (outside CI).
macro_rules! per_backend {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($backend: castellan_e2e::Backend) $body
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(castellan_e2e::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() {
                    run(castellan_e2e::Backend::PostgresRedis).await
                }
            }
        )*
    };
}

mod admin;
mod api_keys;
mod bad_input;
mod better_auth_database;
mod conformance;
mod cookie_cache;
mod cors;
mod email_otp;
mod email_verification;
mod examples;
mod hosted_pages;
mod hostile_input;
mod magic_link;
mod mail_delivery;
mod openapi;
mod organizations;
mod outage;
mod passkey;
mod password_reset;
mod profile;
mod rate_limit;
mod readiness;
mod replicas;
mod scim;
mod secret_rotation;
mod session_authentication;
mod sessions;
mod sign_in;
mod social;
mod sso;
mod sso_setup;
mod tenant_isolation;
mod tokens;
mod two_factor;
mod verify;
mod webhooks;
