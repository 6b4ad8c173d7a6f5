//! Email verification and email change through the captured mails.

use serde_json::json;

both_backends! {
    async fn verification_mail_on_sign_up_and_on_request(app: TestApp) {
        let (b, email) = app.new_user("verify").await;
        let first = app.wait_mail("verification", &email).await;
        assert!(first["url"].as_str().unwrap().starts_with(&format!("{}/verify-email?token=", app.auth_url)));

        let r = b.post("/send-verification-email", &json!({"email": email})).await;
        assert_eq!(r.json, json!({"status": true}));
        let other = b.post("/send-verification-email", &json!({"email": "someone-else@e2e.test"})).await;
        assert_eq!((other.status, other.code()), (400, "EMAIL_MISMATCH"));

        let token = first["token"].as_str().unwrap();
        let tampered = format!("{}xyz", &token[..token.len() - 3]);
        let r = b.get(&format!("/verify-email?token={tampered}")).await;
        assert_eq!((r.status, r.code()), (401, "INVALID_TOKEN"));
        let r = b.get(&format!("/verify-email?token={token}")).await;
        assert_eq!(r.json, json!({"status": true, "user": null}));
        assert_eq!(b.session().await["user"]["emailVerified"], true, "the cached session sees the change");

        let again = b.post("/send-verification-email", &json!({"email": email})).await;
        assert_eq!(again.code(), "EMAIL_ALREADY_VERIFIED");
    }

    async fn verification_link_with_callback_redirects(app: TestApp) {
        let (b, email) = app.new_user("verifycb").await;
        let token = app.wait_mail("verification", &email).await["token"].as_str().unwrap().to_owned();
        let bad = b.get("/verify-email?token=garbage&callbackURL=/done").await;
        assert_eq!((bad.status, bad.headers["location"].to_str().unwrap()), (302, "/done?error=INVALID_TOKEN"));
        let evil = b.get(&format!("/verify-email?token={token}&callbackURL=https://evil.example")).await;
        assert_eq!((evil.status, evil.code()), (403, "INVALID_CALLBACK_URL"));
        let ok = b.get(&format!("/verify-email?token={token}&callbackURL=/done")).await;
        assert_eq!((ok.status, ok.headers["location"].to_str().unwrap()), (302, "/done"));
        let missing = b.get("/verify-email").await;
        assert_eq!(missing.json["message"], "[query.token] Invalid input: expected string, received undefined");
    }

    async fn change_email_needs_the_new_address_verified(app: TestApp) {
        let (b, email) = app.new_user("chg").await;
        let new_email = format!("new-{email}");
        assert_eq!(b.post("/change-email", &json!({"newEmail": new_email})).await.json, json!({"status": true}));
        assert_eq!(b.session().await["user"]["email"], email.as_str(), "nothing changes before the link is opened");
        let mail = app.wait_mail("verification", &new_email).await;
        let token = mail["token"].as_str().unwrap();

        // Opened without the user's session: refused.
        let anon = app.browser().get(&format!("/verify-email?token={token}")).await;
        assert_eq!(anon.status, 401);

        let r = b.get(&format!("/verify-email?token={token}")).await;
        assert_eq!(r.json["status"], true);
        assert_eq!(r.json["user"]["email"], new_email.as_str());
        assert_eq!(r.json["user"]["emailVerified"], true);
        assert_eq!(b.session().await["user"]["email"], new_email.as_str());

        let same = b.post("/change-email", &json!({"newEmail": new_email})).await;
        assert_eq!((same.status, same.json), (400, json!({"message": "Email is the same"})));
    }

    async fn anonymous_verification_requests_reveal_nothing(app: TestApp) {
        let anon = app.browser();
        let r = anon.post("/send-verification-email", &json!({"email": "ghost@e2e.test"})).await;
        assert_eq!(r.json, json!({"status": true}));
        assert!(app.mails().iter().all(|m| m["to"] != "ghost@e2e.test"));
    }
}
