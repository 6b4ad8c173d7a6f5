//! Better Auth's default rate-limit rules and its 429 answer.

use castellan_e2e::PASSWORD;
use serde_json::json;

both_backends! {
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
