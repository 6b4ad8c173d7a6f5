//! Listing and revoking sessions, and get-session's answers.

use castellan_e2e::PASSWORD;
use serde_json::{Value, json};

both_backends! {
    async fn list_and_revoke_sessions(app: TestApp) {
        let (a, email) = app.new_user("sess").await;
        let b = app.browser();
        let c = app.browser();
        for x in [&b, &c] {
            assert_eq!(x.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await.status, 200);
        }
        let list = a.get("/list-sessions").await;
        assert_eq!(list.status, 200);
        let tokens: Vec<String> = list.json.as_array().unwrap().iter().map(|s| s["token"].as_str().unwrap().to_owned()).collect();
        assert_eq!(tokens.len(), 3);

        // Revoke b's session from a.
        let b_token = b.session().await["session"]["token"].as_str().unwrap().to_owned();
        assert_eq!(a.post("/revoke-session", &json!({"token": b_token})).await.json, json!({"status": true}));
        assert_eq!(b.session().await, Value::Null);
        assert!(c.session().await.is_object());

        // Revoke every other session: c goes, a stays.
        assert_eq!(a.post("/revoke-other-sessions", &json!({})).await.json, json!({"status": true}));
        assert_eq!(c.session().await, Value::Null);
        assert!(a.session().await.is_object());

        // Revoke all: a goes too.
        assert_eq!(a.post("/revoke-sessions", &json!({})).await.json, json!({"status": true}));
        assert_eq!(a.session().await, Value::Null);
    }

    async fn another_users_token_cannot_be_revoked(app: TestApp) {
        let (a, _) = app.new_user("victim").await;
        let (m, _) = app.new_user("mallory").await;
        let victim_token = a.session().await["session"]["token"].as_str().unwrap().to_owned();
        let r = m.post("/revoke-session", &json!({"token": victim_token})).await;
        assert_eq!(r.json, json!({"status": true}), "silent success, as in Better Auth");
        assert_eq!(a.session().await["session"]["token"], victim_token.as_str());
    }

    async fn session_endpoints_need_a_session(app: TestApp) {
        let anon = app.browser();
        assert_eq!(anon.get("/get-session").await.json, Value::Null);
        for path in ["/revoke-sessions", "/revoke-other-sessions"] {
            let r = anon.post(path, &json!({})).await;
            assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"), "{path}");
        }
        assert_eq!(anon.get("/list-sessions").await.status, 401);
        // Validation comes before the session check, as in Better Auth.
        let r = anon.post("/revoke-session", &json!({})).await;
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    }

    async fn forged_or_unsigned_cookies_give_no_session(app: TestApp) {
        let (a, _) = app.new_user("forge").await;
        let token = a.session().await["session"]["token"].as_str().unwrap().to_owned();
        let b = app.browser();
        b.set_cookie("better-auth.session_token", &token);
        assert_eq!(b.session().await, Value::Null, "an unsigned token is not a session");
        let forged = castellan_crypto::signing::sign_cookie_value("not-the-secret", &token);
        let c = app.browser();
        c.set_cookie("better-auth.session_token", &url::form_urlencoded::byte_serialize(forged.as_bytes()).collect::<String>());
        let r = c.get("/get-session").await;
        assert_eq!(r.json, Value::Null);
        assert!(r.set_cookies().iter().any(|s| s.starts_with("better-auth.session_token=; Max-Age=0")));
        assert_eq!(r.headers["cache-control"], "no-store");
    }

    async fn post_get_session_needs_deferred_refresh(app: TestApp) {
        let r = app.browser().post("/get-session", &json!({})).await;
        assert_eq!((r.status, r.code()), (405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED"));
    }
}

mod refresh {
    use castellan_e2e::{Backend, TestApp};
    use chrono::{TimeDelta, Utc};
    use sea_orm::{ConnectionTrait, Statement};

    /// A session last extended more than `updateAge` (one day) ago is extended by get-session,
    /// which also re-issues the cookie; a younger one is left alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn get_session_extends_old_sessions() {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        let (b, _) = app.new_user("refresh").await;
        let fresh = b.get("/get-session").await;
        assert!(fresh.set_cookies().is_empty(), "a fresh session is not re-issued");

        let token = fresh.json["session"]["token"].as_str().unwrap().to_owned();
        let db = app.db().await;
        let aged = Utc::now() + TimeDelta::days(5);
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            r#"UPDATE "session" SET "expiresAt" = ? WHERE "token" = ?"#,
            [aged.into(), token.clone().into()],
        ))
        .await
        .unwrap();
        // A new server on the same store, so no cached copy hides the change.
        let replica = TestApp::spawn_on(app.storage.share(), &[]).await;
        let b2 = replica.browser();
        b2.set_cookie(
            "better-auth.session_token",
            &b.cookie("better-auth.session_token").unwrap(),
        );
        let r = b2.get("/get-session").await;
        let expires =
            chrono::DateTime::parse_from_rfc3339(r.json["session"]["expiresAt"].as_str().unwrap()).unwrap();
        assert!(
            expires > Utc::now() + TimeDelta::days(6),
            "extended to now + 7 days, got {expires}"
        );
        assert!(r.set_cookies().iter().any(|c| c.contains("Max-Age=604800")));
    }
}
