//! Sign-up, sign-in and sign-out as the Better Auth client sees them.

use castellan_crypto::signing::verify_cookie_value;
use castellan_e2e::PASSWORD;
use serde_json::json;

both_backends! {
    async fn sign_up_signs_in_with_a_better_auth_cookie(app: TestApp) {
        let b = app.browser();
        let r = b.post("/sign-up/email", &json!({"email": "Ann@Example.test", "password": PASSWORD, "name": "Ann"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = r.json["token"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 32);
        assert_eq!(r.json["user"]["email"], "ann@example.test", "emails are stored lower-case");
        assert_eq!(r.json["user"]["emailVerified"], false);
        assert_eq!(r.json["user"]["role"], "user");
        assert!(r.json["user"].get("password").is_none());
        assert!(r.json["user"]["createdAt"].as_str().unwrap().ends_with('Z'));

        let set_cookie = r.set_cookies().into_iter().find(|c| c.starts_with("better-auth.session_token=")).unwrap();
        assert!(set_cookie.ends_with("; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax"), "{set_cookie}");
        let cookie = b.cookie("better-auth.session_token").unwrap();
        let decoded = url::form_urlencoded::parse(format!("v={cookie}").as_bytes()).next().unwrap().1.into_owned();
        assert_eq!(verify_cookie_value(&app.secret, &decoded), Some(token.as_str()));

        let s = b.session().await;
        assert_eq!(s["session"]["token"], token.as_str());
        assert_eq!(s["user"]["id"], r.json["user"]["id"]);
        assert_eq!(s["session"]["ipAddress"], b.ip.as_str());
    }

    async fn sign_in_and_sign_out(app: TestApp) {
        let (first, email) = app.new_user("signin").await;
        let b = app.browser();
        let r = b.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["redirect"], false);
        assert!(r.json.get("url").is_none());
        let token = r.json["token"].as_str().unwrap().to_owned();
        assert_ne!(Some(token.as_str()), first.session().await["session"]["token"].as_str());

        let out = b.post("/sign-out", &json!({})).await;
        assert_eq!(out.json, json!({"success": true}));
        assert!(out.set_cookies().iter().any(|c| c.starts_with("better-auth.session_token=; Max-Age=0")));
        assert_eq!(b.session().await, serde_json::Value::Null);
        // The other device is untouched.
        assert_eq!(first.session().await["user"]["email"], email.as_str());
    }

    async fn wrong_password_and_unknown_email_look_the_same(app: TestApp) {
        let (_, email) = app.new_user("wrong").await;
        let b = app.browser();
        let wrong = b.post("/sign-in/email", &json!({"email": email, "password": "not-the-password"})).await;
        let unknown = app.browser().post("/sign-in/email", &json!({"email": "nobody@e2e.test", "password": "whatever-123"})).await;
        for r in [&wrong, &unknown] {
            assert_eq!(r.status, 401);
            assert_eq!(r.json, json!({"message": "Invalid email or password", "code": "INVALID_EMAIL_OR_PASSWORD"}));
            assert!(r.set_cookies().is_empty());
        }
    }

    async fn duplicate_sign_up_is_refused_and_keeps_the_first_account(app: TestApp) {
        let (_, email) = app.new_user("dup").await;
        let r = app.browser().post("/sign-up/email", &json!({"email": email.to_uppercase(), "password": "Other-password-1", "name": "x"})).await;
        assert_eq!(r.status, 422);
        assert_eq!(r.code(), "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");
        let ok = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(ok.status, 200);
    }

    async fn remember_me_false_gives_a_browser_session_cookie(app: TestApp) {
        let (_, email) = app.new_user("norem").await;
        let b = app.browser();
        let r = b.post("/sign-in/email", &json!({"email": email, "password": PASSWORD, "rememberMe": false})).await;
        let cookies = r.set_cookies();
        let session = cookies.iter().find(|c| c.starts_with("better-auth.session_token=")).unwrap();
        assert!(!session.contains("Max-Age"), "{session}");
        assert!(cookies.iter().any(|c| c.starts_with("better-auth.dont_remember=true.")));
        let s = b.session().await;
        let created = chrono::DateTime::parse_from_rfc3339(s["session"]["createdAt"].as_str().unwrap()).unwrap();
        let expires = chrono::DateTime::parse_from_rfc3339(s["session"]["expiresAt"].as_str().unwrap()).unwrap();
        assert_eq!((expires - created).num_hours(), 24);
    }

    async fn callback_url_is_echoed_and_must_be_trusted(app: TestApp) {
        let (_, email) = app.new_user("cb").await;
        let r = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD, "callbackURL": "/dashboard"})).await;
        assert_eq!(r.json["redirect"], true);
        assert_eq!(r.json["url"], "/dashboard");
        assert_eq!(r.headers["location"], "/dashboard");
        let evil = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD, "callbackURL": "https://evil.example"})).await;
        assert_eq!(evil.status, 403);
        assert_eq!(evil.code(), "INVALID_CALLBACK_URL");
    }

    async fn csrf_origin_checks(app: TestApp) {
        let (b, email) = app.new_user("csrf").await;
        // A cookie-carrying request from another origin is refused.
        let req = reqwest::Client::new()
            .post(format!("{}/sign-out", app.auth_url))
            .header("cookie", "better-auth.session_token=x")
            .header("origin", "https://evil.example");
        let r = b.send(req).await;
        assert_eq!((r.status, r.code()), (403, "INVALID_ORIGIN"));
        let req = reqwest::Client::new().post(format!("{}/sign-out", app.auth_url)).header("cookie", "a=b");
        assert_eq!(b.send(req).await.code(), "MISSING_OR_NULL_ORIGIN");
        // Cross-site navigation to the sign-in form is blocked even without cookies.
        let req = reqwest::Client::new()
            .post(format!("{}/sign-in/email", app.auth_url))
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate")
            .json(&json!({"email": email, "password": PASSWORD}));
        assert_eq!(b.send(req).await.code(), "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
        // Server-to-server calls without Origin or cookies are allowed.
        let req = reqwest::Client::new()
            .post(format!("{}/sign-in/email", app.auth_url))
            .header("x-forwarded-for", "198.18.99.1")
            .json(&json!({"email": email, "password": PASSWORD}));
        assert_eq!(b.send(req).await.status, 200);
    }

    async fn form_posts_are_accepted_for_credentials(app: TestApp) {
        let (_, email) = app.new_user("form").await;
        let b = app.browser();
        let body = format!("email={}&password={PASSWORD}", url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>());
        let r = b.post_raw("/sign-in/email", "application/x-www-form-urlencoded", body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["user"]["email"], email.as_str());
    }
}

mod secure_cookies {
    use castellan_e2e::{Backend, PASSWORD, TestApp};
    use serde_json::json;

    /// An https `BASE_URL` gets Better Auth's `__Secure-` cookie names and the `Secure` flag.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn https_deployments_use_secure_prefixed_cookies() {
        let app = TestApp::spawn_with(Backend::Sqlite, &[("BASE_URL", "https://auth.e2e.test")])
            .await
            .unwrap();
        // A server-to-server call (no Origin, no cookies), so the http test origin does not matter.
        let req = reqwest::Client::new()
            .post(format!("{}/sign-up/email", app.auth_url))
            .json(&json!({"email": "secure@e2e.test", "password": PASSWORD, "name": "S"}));
        let r = app.browser().send(req).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let cookie = r.set_cookies().into_iter().next().unwrap();
        assert!(
            cookie.starts_with("__Secure-better-auth.session_token="),
            "{cookie}"
        );
        assert!(
            cookie.ends_with("; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax"),
            "{cookie}"
        );
        let mail = app.wait_mail("verification", "secure@e2e.test").await;
        assert!(
            mail["url"]
                .as_str()
                .unwrap()
                .starts_with("https://auth.e2e.test/api/auth/verify-email?token=")
        );
    }
}
