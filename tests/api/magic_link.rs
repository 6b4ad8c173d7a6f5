//! Magic links through the captured mails: single use, hashed at rest, a user created on first
//! use, trusted targets only, and an unproven account's password gone once the mailbox is proven.

use castellan_e2e::PASSWORD;
use serde_json::json;

/// Requests a link in a fresh browser; returns the token and URL of the new mail (the outbox
/// sends in the background, so earlier links to the address are skipped).
async fn mailed_link(app: &castellan_e2e::TestApp, body: serde_json::Value) -> (String, String) {
    let email = body["email"].as_str().unwrap().to_owned();
    let links = || -> Vec<serde_json::Value> {
        app.mails()
            .into_iter()
            .filter(|m| m["kind"] == "magic-link" && m["to"] == email.as_str())
            .collect()
    };
    let before = links();
    let r = app.browser().post("/sign-in/magic-link", &body).await;
    assert_eq!(r.json, json!({"status": true}), "{}", r.text);
    for _ in 0..100 {
        if let Some(mail) = links().into_iter().find(|m| !before.contains(m)) {
            return (
                mail["token"].as_str().unwrap().to_owned(),
                mail["url"].as_str().unwrap().to_owned(),
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no new magic link to {email}");
}

both_backends! {
    async fn a_magic_link_signs_in_once_and_creates_the_user(app: TestApp) {
        let email = format!("{}@magic.test", castellan_e2e::unique("ml"));
        let (token, url) = mailed_link(&app, json!({"email": email, "name": "Magic", "callbackURL": "/dash", "newUserCallbackURL": "/welcome"})).await;
        assert!(url.starts_with(&format!("{}/magic-link/verify?token={token}&callbackURL=%2Fdash", app.auth_url)), "{url}");
        assert!(url.contains("newUserCallbackURL=%2Fwelcome"), "{url}");
        assert_eq!(token.len(), 32);
        assert!(token.chars().all(|c| c.is_ascii_alphabetic()));

        let b = app.browser();
        let path = url.strip_prefix(&app.auth_url).unwrap();
        let r = b.get(path).await;
        assert_eq!((r.status, r.headers["location"].to_str().unwrap()), (302, format!("{}/welcome", app.origin).as_str()));
        let session = b.session().await;
        assert_eq!(session["user"]["email"], email.as_str());
        assert_eq!((session["user"]["emailVerified"].as_bool(), session["user"]["name"].as_str()), (Some(true), Some("Magic")));

        let again = app.browser().get(path).await;
        assert_eq!(again.headers["location"].to_str().unwrap(), format!("{}/dash?error=INVALID_TOKEN", app.origin), "a link works once");

        // A second link for the same address signs in as the same user.
        let (_, url) = mailed_link(&app, json!({"email": email, "callbackURL": "/dash"})).await;
        let b2 = app.browser();
        let r = b2.get(url.strip_prefix(&app.auth_url).unwrap()).await;
        assert_eq!(r.headers["location"].to_str().unwrap(), format!("{}/dash", app.origin));
        assert_eq!(b2.session().await["user"]["id"], session["user"]["id"]);

        // Stored hashed: the row names the token's digest, never the token.
        use sea_orm::{ConnectionTrait, Statement};
        let db = app.db().await;
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), r#"SELECT "identifier" FROM "verification""#))
            .await
            .unwrap();
        let identifiers: Vec<String> = rows.iter().map(|r| r.try_get("", "identifier").unwrap()).collect();
        assert!(identifiers.iter().all(|i| !i.contains(&token)), "{identifiers:?}");
    }

    async fn without_a_callback_the_link_answers_json(app: TestApp) {
        let email = format!("{}@magic.test", castellan_e2e::unique("mj"));
        let (token, _) = mailed_link(&app, json!({"email": email})).await;
        let b = app.browser();
        let r = b.get(&format!("/magic-link/verify?token={token}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["user"]["email"], email.as_str());
        assert_eq!(r.json["token"], r.json["session"]["token"]);
        assert!(b.session().await["user"].is_object(), "the session cookie is set");
        let bad = app.browser().get("/magic-link/verify?token=nope").await;
        assert_eq!(bad.headers["location"].to_str().unwrap(), format!("{}/?error=INVALID_TOKEN", app.origin));
    }

    async fn proving_the_mailbox_ends_an_unproven_accounts_password_and_sessions(app: TestApp) {
        // Someone registered the address with a password, without proving it.
        let (squatter, email) = app.new_user("squat").await;
        assert!(squatter.session().await["user"].is_object());
        let (_, url) = mailed_link(&app, json!({"email": email, "callbackURL": "/dash"})).await;
        let owner = app.browser();
        owner.get(url.strip_prefix(&app.auth_url).unwrap()).await;
        assert_eq!(owner.session().await["user"]["emailVerified"], true);
        assert!(squatter.session().await.is_null(), "the squatter's session is gone");
        let r = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!((r.status, r.code()), (401, "INVALID_EMAIL_OR_PASSWORD"), "and so is the password");
    }

    async fn magic_link_targets_must_be_trusted(app: TestApp) {
        let email = format!("{}@magic.test", castellan_e2e::unique("mt"));
        for (key, code) in [("callbackURL", "INVALID_CALLBACK_URL"), ("newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL"), ("errorCallbackURL", "INVALID_ERROR_CALLBACK_URL")] {
            let r = app.browser().post("/sign-in/magic-link", &json!({"email": email, key: "https://evil.example"})).await;
            assert_eq!((r.status, r.code()), (403, code), "{key}");
            let r = app.browser().get(&format!("/magic-link/verify?token=x&{key}=https://evil.example")).await;
            assert_eq!((r.status, r.code()), (403, code), "{key} on verify");
        }
        let r = app.browser().post("/sign-in/magic-link", &json!({"email": "not-an-address"})).await;
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
    }

    async fn one_address_gets_at_most_five_mails_whoever_asks(app: TestApp) {
        let victim = format!("{}@magic.test", castellan_e2e::unique("bomb"));
        for path in ["/sign-in/magic-link", "/request-password-reset", "/send-verification-email"] {
            let mut statuses = Vec::new();
            for _ in 0..6 {
                // A new client address each time: the per-client limit alone would let all through.
                statuses.push(app.browser().post(path, &json!({"email": victim})).await.status);
            }
            assert_eq!(statuses, [200, 200, 200, 200, 200, 429], "{path}");
        }
        let other = format!("{}@magic.test", castellan_e2e::unique("free"));
        assert_eq!(app.browser().post("/sign-in/magic-link", &json!({"email": other})).await.status, 200, "another address is not limited");
    }
}
