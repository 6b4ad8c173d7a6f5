//! The database going away under load, through a proxy the test cuts: clean 503s with
//! `Retry-After` while it is gone (never a 500, never a hang), recovery within seconds once it
//! is back, and no acknowledged write lost. Postgres only: SQLite has no server to lose.

use std::time::{Duration, Instant};

use castellan_e2e::proxy::Proxy;
use castellan_e2e::{Backend, PASSWORD, Storage, TestApp, unique};
use serde_json::json;

/// Signs up a fresh address; its status and the address.
async fn sign_up(app: &TestApp) -> (u16, String, Option<String>) {
    let email = format!("{}@outage.test", unique("o"));
    let r = app
        .browser()
        .post(
            "/sign-up/email",
            &json!({"email": email, "password": PASSWORD, "name": "O"}),
        )
        .await;
    let retry_after = r
        .headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status, email, retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_a_clean_503_and_loses_no_acknowledged_write() {
    let Some(mut storage) = Storage::fresh(Backend::PostgresRedis).await else {
        return;
    };
    let direct = storage.database_url.clone();
    let proxy = Proxy::start("127.0.0.1:5432").await;
    storage.database_url = direct.replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    assert_ne!(storage.database_url, direct, "the app goes through the proxy");
    let app = TestApp::spawn_on(storage, &[("RATE_LIMIT", "0")]).await;
    let (user, _) = app.new_user("outage").await;

    let mut acknowledged = Vec::new();
    for _ in 0..5 {
        let (status, email, _) = sign_up(&app).await;
        assert_eq!(status, 200);
        acknowledged.push(email);
    }

    proxy.cut();
    let started = Instant::now();
    let during = futures_util::future::join_all((0..4).map(|_| sign_up(&app))).await;
    assert!(
        during.iter().all(|d| d.0 == 503),
        "the outage was felt: {:?}",
        during.iter().map(|d| d.0).collect::<Vec<_>>()
    );
    for (status, email, retry_after) in during {
        assert_eq!(
            (status, retry_after.as_deref()),
            (503, Some("5")),
            "{email}: 503 says when to retry"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered within the acquire timeout, no hang"
    );
    let ready = app.browser().get("/ready").await;
    assert_eq!(
        (ready.status, ready.json["checks"]["database"].as_str()),
        (503, Some("unavailable"))
    );
    let session = user.get("/get-session").await;
    assert!(
        matches!(session.status, 200 | 503),
        "a session check is answered: {}",
        session.status
    );

    proxy.restore();
    let back = Instant::now();
    loop {
        let (status, email, _) = sign_up(&app).await;
        if status == 200 {
            acknowledged.push(email);
            break;
        }
        assert_eq!(status, 503);
        assert!(
            back.elapsed() < Duration::from_secs(20),
            "no recovery 20 s after the database came back"
        );
    }
    for _ in 0..3 {
        let (status, email, _) = sign_up(&app).await;
        assert_eq!(status, 200, "recovered");
        acknowledged.push(email);
    }
    assert!(
        user.session().await["user"].is_object(),
        "sessions validate again"
    );

    // Every answered sign-up is in the database (read directly, not through the proxy).
    let db = castellan_data::connect(&direct).await.unwrap();
    for email in &acknowledged {
        let row = castellan_data::repo::users::find_by_email(&db, email)
            .await
            .unwrap();
        assert!(row.is_some(), "{email} was acknowledged but is not stored");
    }
}

/// Redis going away under load, through a proxy: sessions keep validating from the database,
/// the general rate limit is counted in process, the brute-force limits fail closed (503), and
/// everything is shared again within seconds of its return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_keeps_sessions_valid_and_brute_force_limits_closed() {
    let Some(storage) = Storage::fresh(Backend::PostgresRedis).await else {
        return;
    };
    let proxy = Proxy::start("127.0.0.1:6379").await;
    let redis = format!("redis://127.0.0.1:{}", proxy.port);
    let app = TestApp::spawn_on(storage, &[("REDIS_URL", &redis)]).await;
    let (user, email) = app.new_user("redis-outage").await;
    assert_eq!(user.session().await["user"]["email"], email.as_str());

    proxy.cut();
    let checks = futures_util::future::join_all((0..30).map(|_| user.get("/get-session"))).await;
    for r in &checks {
        assert_eq!(
            (r.status, r.json["user"]["email"].as_str()),
            (200, Some(email.as_str())),
            "{}",
            r.text
        );
    }
    assert_eq!(user.get("/list-sessions").await.status, 200);
    let sign_in = app
        .browser()
        .post("/sign-in/email", &json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(
        (
            sign_in.status,
            sign_in.code(),
            sign_in.headers.get("retry-after").map(|v| v.to_str().unwrap())
        ),
        (503, "SERVICE_UNAVAILABLE", Some("5")),
        "brute-force limits fail closed"
    );
    assert_eq!(app.browser().get("/ok").await.status, 200);
    let ready = app.browser().get("/ready").await;
    assert_eq!(
        (ready.status, ready.json["checks"]["redis"].as_str()),
        (503, Some("unavailable"))
    );

    proxy.restore();
    let back = Instant::now();
    let b = app.browser();
    loop {
        let r = b
            .post("/sign-in/email", &json!({"email": email, "password": PASSWORD}))
            .await;
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "no recovery 15 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The shared counters count again: a fresh client gets Better Auth's 3 tries.
    let attacker = app.browser();
    let wrong = json!({"email": email, "password": "not-it"});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(attacker.post("/sign-in/email", &wrong).await.status);
    }
    assert_eq!(statuses, [401, 401, 401, 429]);
}
