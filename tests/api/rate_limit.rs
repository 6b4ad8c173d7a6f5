//! Better Auth's default rate-limit rules and its 429 answer.

use castellan_e2e::{PASSWORD, TestApp};
use serde_json::json;

both_backends! {
    async fn the_health_check_is_never_rate_limited(app: TestApp) {
        let b = app.browser();
        // Past the 100-per-10-s rule every other path has.
        for i in 0..120 {
            let r = b.get("/ok").await;
            assert_eq!((r.status, r.json.clone()), (200, json!({"ok": true})), "request {i}");
        }
        let mut limited = 0;
        for _ in 0..101 {
            if b.get("/jwks").await.status == 429 {
                limited += 1;
            }
        }
        assert!(limited >= 1, "the same address is still limited elsewhere");
    }

    async fn fourth_sign_in_in_ten_seconds_is_refused(app: TestApp) {
        let (_, email) = app.new_user("rl").await;
        let b = app.browser();
        let mut statuses = Vec::new();
        for i in 0..4 {
            statuses.push(b.post("/sign-in/email", &json!({"email": email, "password": format!("wrong-{i}-password")})).await);
        }
        assert_eq!(statuses.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 401, 401, 429]);
        let limited = &statuses[3];
        assert_eq!(limited.text, r#"{"message":"Too many requests. Please try again later."}"#);
        let retry: u64 = limited.headers["x-retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry), "{retry}");
        // The right password does not get through either, but another address does.
        assert_eq!(b.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await.status, 429);
        assert_eq!(app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await.status, 200);
    }
}

mod shared_counters {
    use castellan_e2e::{Backend, PASSWORD, TestApp};
    use serde_json::json;

    /// Two replicas on one Redis share the counters: three attempts on one and the fourth on the
    /// other is refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_share_rate_limit_counters() {
        let Some(a) = TestApp::spawn(Backend::PostgresRedis).await else {
            return;
        };
        let b = TestApp::spawn_on(a.storage.share(), &[]).await;
        let (_, email) = a.new_user("rlshared").await;
        let on_a = a.browser();
        for i in 0..3 {
            let r = on_a
                .post(
                    "/sign-in/email",
                    &json!({"email": email, "password": format!("wrong-{i}-pass")}),
                )
                .await;
            assert_eq!(r.status, 401);
        }
        let on_b = b.browser();
        let req = reqwest::Client::new()
            .post(format!("{}/sign-in/email", b.auth_url))
            .header("x-forwarded-for", &on_a.ip)
            .json(&json!({"email": email, "password": PASSWORD}));
        assert_eq!(on_b.send(req).await.status, 429);
    }
}

async fn sign_in_from(
    app: &TestApp,
    email: &str,
    forwarded_for: &str,
    password: &str,
) -> castellan_e2e::Response {
    let b = app.browser();
    let req = reqwest::Client::new()
        .post(format!("{}/sign-in/email", app.auth_url))
        .header("origin", &app.origin)
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": password}));
    b.send(req).await
}

// Forwarding headers are believed only from `TRUSTED_PROXIES`.
per_backend! {
    async fn forwarding_headers_count_only_from_trusted_proxies(backend) {
        // The default: no proxy is trusted. Every "address" a client claims lands in one bucket
        // (its real one), and sessions record the real peer.
        let Some(direct) = TestApp::spawn_with(backend, &[("TRUSTED_PROXIES", "")]).await else {
            return;
        };
        let (_, email) = direct.new_user("proxy").await;
        let mut statuses = Vec::new();
        for i in 0..4 {
            let claimed = format!("198.51.100.{i}");
            statuses.push(
                sign_in_from(&direct, &email, &claimed, "wrong-password-1")
                    .await
                    .status,
            );
        }
        assert_eq!(
            statuses,
            [401, 401, 401, 429],
            "a forged X-Forwarded-For dodged the limit"
        );

        let trusted = TestApp::spawn_on(
            direct.storage.share(),
            &[("TRUSTED_PROXIES", "127.0.0.0/8, 10.0.0.0/8")],
        )
        .await;
        // Behind trusted proxies the right-most untrusted hop is the client: the forged left-most
        // entry is ignored.
        let r = sign_in_from(&trusted, &email, "6.6.6.6, 203.0.113.50, 10.1.1.1", PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = r.json["token"].as_str().unwrap();
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let row = castellan_data::entity::session::Entity::find()
            .filter(castellan_data::entity::session::Column::Token.eq(token))
            .one(&trusted.db().await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.ip_address.as_deref(), Some("203.0.113.50"));
    }
}
