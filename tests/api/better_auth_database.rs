//! An existing Better Auth database is used in place: its users sign in with their scrypt
//! passwords (upgraded to argon2id on the way), and its session cookies stay valid when both
//! servers share the secret.

use castellan_e2e::{Backend, Storage, TestApp};
use chrono::{TimeDelta, Utc};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

/// The test vectors of ../shared/spec/better-auth-core.md §11, computed with Better Auth's own
/// packages: a session token signed with this secret, and a scrypt hash of `test123456`.
const SECRET: &str = "better-auth-secret-12345678901234567890";
const TOKEN: &str = "abcdefghijklmnopqrstuvwxyzABCDEF";
const SIGNED_COOKIE: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEF.QmaNojtZSUlZhDy0KckVS%2FNKGUOtxYFA44h2iQBuCz4%3D";
const PASSWORD: &str = "test123456";
const SCRYPT_HASH: &str = "00112233445566778899aabbccddeeff:e0e498353e79321de2209bc13aaa1ecc177c039024c23312ad8f25cfa11a7156b77935ee0e176cc3cadc42862d901cc1cacabd229d0a0b28e198925f1fda4f32";

fn iso(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Creates Better Auth's schema and writes one user, its credential account and a session,
/// the way Better Auth writes them on that backend.
async fn seed_better_auth_database(storage: &Storage) {
    let db = castellan_data::connect(&storage.database_url).await.unwrap();
    let (schema, ts) = match storage.backend {
        Backend::Sqlite => (include_str!("../fixtures/better-auth-1.7.25-sqlite.sql"), ""),
        Backend::PostgresRedis => (
            include_str!("../fixtures/better-auth-1.7.25-postgres.sql"),
            "::timestamptz",
        ),
    };
    let without_comments: String = schema
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for stmt in without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        db.execute_unprepared(stmt).await.unwrap();
    }
    let now = iso(Utc::now());
    let expires = iso(Utc::now() + TimeDelta::days(7));
    let f = match storage.backend {
        Backend::Sqlite => "0",
        Backend::PostgresRedis => "false",
    };
    db.execute_unprepared(&format!(
        r#"INSERT INTO "user" ("id","name","email","emailVerified","image","createdAt","updatedAt") VALUES ('baUser0000000000000000000000001','Legacy','legacy@better-auth.test',{f},NULL,'{now}'{ts},'{now}'{ts})"#
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        r#"INSERT INTO "account" ("id","accountId","providerId","userId","password","createdAt","updatedAt") VALUES ('baAcct0000000000000000000000001','baUser0000000000000000000000001','credential','baUser0000000000000000000000001','{SCRYPT_HASH}','{now}'{ts},'{now}'{ts})"#
    ))
    .await
    .unwrap();
    db.execute_unprepared(&format!(
        r#"INSERT INTO "session" ("id","expiresAt","token","createdAt","updatedAt","ipAddress","userAgent","userId") VALUES ('baSess0000000000000000000000001','{expires}'{ts},'{TOKEN}','{now}'{ts},'{now}'{ts},'','','baUser0000000000000000000000001')"#
    ))
    .await
    .unwrap();
}

async fn stored_password(app: &TestApp) -> String {
    let db = app.db().await;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            r#"SELECT "password" FROM "account" WHERE "id" = 'baAcct0000000000000000000000001'"#,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "password").unwrap()
}

async fn better_auth_users_and_sessions_keep_working(backend: Backend) {
    let Some(storage) = Storage::fresh(backend).await else {
        return;
    };
    seed_better_auth_database(&storage).await;
    let app = TestApp::spawn_on(storage, &[("CASTELLAN_SECRET", SECRET)]).await;

    // The session Better Auth issued is still valid, cookie and all.
    let browser = app.browser();
    browser.set_cookie("better-auth.session_token", SIGNED_COOKIE);
    let s = browser.session().await;
    assert_eq!(s["user"]["email"], "legacy@better-auth.test");
    assert_eq!(s["session"]["token"], TOKEN);
    assert_eq!(s["user"]["emailVerified"], false);

    // The scrypt password signs in, and is re-hashed with argon2id.
    let r = app
        .browser()
        .post(
            "/sign-in/email",
            &json!({"email": "legacy@better-auth.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["user"]["id"], "baUser0000000000000000000000001");
    let upgraded = stored_password(&app).await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{upgraded}"
    );
    let again = app
        .browser()
        .post(
            "/sign-in/email",
            &json!({"email": "legacy@better-auth.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status, 200);
    let wrong = app
        .browser()
        .post(
            "/sign-in/email",
            &json!({"email": "legacy@better-auth.test", "password": "test1234567"}),
        )
        .await;
    assert_eq!(wrong.status, 401);

    // New users land in the same tables.
    let (_, email) = app.new_user("alongside").await;
    assert_eq!(
        app.browser()
            .post(
                "/sign-in/email",
                &json!({"email": email, "password": castellan_e2e::PASSWORD})
            )
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_better_auth_database_is_used_in_place() {
    better_auth_users_and_sessions_keep_working(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_better_auth_database_is_used_in_place() {
    better_auth_users_and_sessions_keep_working(Backend::PostgresRedis).await;
}
