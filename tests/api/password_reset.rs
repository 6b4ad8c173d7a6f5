//! Password reset through the captured mail.

use castellan_e2e::PASSWORD;
use serde_json::{Value, json};

both_backends! {
    async fn reset_works_once_and_ends_sessions(app: TestApp) {
        let (signed_in, email) = app.new_user("reset").await;
        let anon = app.browser();
        let unknown = anon.post("/request-password-reset", &json!({"email": "ghost@e2e.test", "redirectTo": "/reset"})).await;
        let known = anon.post("/request-password-reset", &json!({"email": email, "redirectTo": "/reset"})).await;
        assert_eq!(known.json, unknown.json, "the same answer for known and unknown addresses");
        assert_eq!(known.json["message"], "If this email exists in our system, check your email for the reset link");

        let mail = app.wait_mail("reset-password", &email).await;
        let token = mail["token"].as_str().unwrap().to_owned();
        assert_eq!(mail["url"], format!("{}/reset-password/{token}?callbackURL=%2Freset", app.auth_url));

        let landing = anon.get(&format!("/reset-password/{token}?callbackURL=/reset")).await;
        assert_eq!(landing.status, 302);
        assert_eq!(landing.headers["location"], format!("{}/reset?token={token}", app.origin).as_str());
        let bad_landing = anon.get("/reset-password/nope?callbackURL=/reset").await;
        assert_eq!(bad_landing.headers["location"], format!("{}/reset?error=INVALID_TOKEN", app.origin).as_str());

        let bogus = anon.post("/reset-password", &json!({"newPassword": "Reset-password-1", "token": "bogus"})).await;
        assert_eq!((bogus.status, bogus.code()), (400, "INVALID_TOKEN"));
        let short = anon.post("/reset-password", &json!({"newPassword": "short", "token": token})).await;
        assert_eq!(short.code(), "PASSWORD_TOO_SHORT");
        let ok = anon.post("/reset-password", &json!({"newPassword": "Reset-password-1", "token": token})).await;
        assert_eq!(ok.json, json!({"status": true}));
        let again = anon.post("/reset-password", &json!({"newPassword": "Reset-password-2", "token": token})).await;
        assert_eq!(again.code(), "INVALID_TOKEN", "single use");

        assert_eq!(signed_in.session().await, Value::Null, "a reset ends existing sessions");
        assert_eq!(app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await.status, 401);
        assert_eq!(app.browser().post("/sign-in/email", &json!({"email": email, "password": "Reset-password-1"})).await.status, 200);
    }

    async fn concurrent_resets_with_one_token_succeed_once(app: TestApp) {
        let (_, email) = app.new_user("race").await;
        app.browser().post("/request-password-reset", &json!({"email": email})).await;
        let token = app.wait_mail("reset-password", &email).await["token"].as_str().unwrap().to_owned();
        let (a, b) = (app.browser(), app.browser());
        let (body1, body2) = (
            json!({"newPassword": "Racer-password-1", "token": token}),
            json!({"newPassword": "Racer-password-2", "token": token}),
        );
        let (r1, r2) = tokio::join!(a.post("/reset-password", &body1), b.post("/reset-password", &body2));
        let mut statuses = [r1.status, r2.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400]);
    }
}
