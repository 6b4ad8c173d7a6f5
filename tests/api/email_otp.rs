//! Email one-time codes through the captured mails: sign-in and sign-up on first use, single
//! use, hashed at rest, three wrong guesses and the code is dead, expiry, no account
//! enumeration, email verification, password reset and email change.

use castellan_e2e::{Browser, PASSWORD, TestApp};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

/// Asks for a code from a fresh browser; returns it once its mail is sent (the outbox sends
/// in the background, so earlier codes to the address are skipped).
async fn mailed_code(app: &TestApp, path: &str, body: Value) -> String {
    let to = body["email"]
        .as_str()
        .or(body["newEmail"].as_str())
        .unwrap()
        .to_owned();
    let codes = || -> Vec<Value> {
        app.mails()
            .into_iter()
            .filter(|m| m["kind"] == "email-otp" && m["to"] == to.as_str())
            .collect()
    };
    let before = codes();
    let r = app.browser().post(path, &body).await;
    assert_eq!(r.json, json!({"success": true}), "{}", r.text);
    wait_new_code(&codes, &before).await
}

async fn wait_new_code(codes: &impl Fn() -> Vec<Value>, before: &[Value]) -> String {
    for _ in 0..100 {
        if let Some(mail) = codes().into_iter().find(|m| !before.contains(m)) {
            return mail["otp"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no new code mailed");
}

async fn sign_in_code(app: &TestApp, email: &str) -> String {
    mailed_code(
        app,
        "/email-otp/send-verification-otp",
        json!({"email": email, "type": "sign-in"}),
    )
    .await
}

/// A code that is certainly not `code`.
fn other_than(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

async fn verification_values(app: &TestApp, identifier: &str) -> Vec<String> {
    let db = app.db().await;
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    r#"SELECT "value" FROM "verification" WHERE "identifier" = $1"#
                }
                _ => r#"SELECT "value" FROM "verification" WHERE "identifier" = ?"#,
            },
            [identifier.into()],
        ))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get("", "value").unwrap()).collect()
}

fn new_address(tag: &str) -> String {
    format!("{}@otp.test", castellan_e2e::unique(tag))
}

async fn signed_in(b: &Browser) -> Value {
    b.session().await
}

both_backends! {
    async fn a_code_signs_up_once_and_is_stored_hashed(app: TestApp) {
        let email = new_address("new");
        let code = sign_in_code(&app, &email).await;
        assert!(code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()), "{code}");
        let stored = verification_values(&app, &format!("sign-in-otp-{email}")).await;
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert!(!stored[0].contains(&code) && stored[0].ends_with(":0"), "stored hashed, no wrong guesses: {stored:?}");

        let b = app.browser();
        let r = b.post("/sign-in/email-otp", &json!({"email": email.to_uppercase(), "otp": code, "name": "Otto"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.json["user"]["email"].as_str(), r.json["user"]["emailVerified"].as_bool()), (Some(email.as_str()), Some(true)));
        let session = signed_in(&b).await;
        assert_eq!((session["user"]["name"].as_str(), session["session"]["token"].as_str()), (Some("Otto"), r.json["token"].as_str()));
        assert!(verification_values(&app, &format!("sign-in-otp-{email}")).await.is_empty(), "spent");

        let again = app.browser().post("/sign-in/email-otp", &json!({"email": email, "otp": code})).await;
        assert_eq!((again.status, again.code()), (400, "INVALID_OTP"), "a code works once");

        // A returning user signs in as the same user.
        let code = sign_in_code(&app, &email).await;
        let b2 = app.browser();
        assert_eq!(b2.post("/sign-in/email-otp", &json!({"email": email, "otp": code})).await.status, 200);
        assert_eq!(signed_in(&b2).await["user"]["id"], session["user"]["id"]);
    }

    async fn three_wrong_guesses_kill_a_code(app: TestApp) {
        let email = new_address("guess");
        let code = sign_in_code(&app, &email).await;
        let wrong = other_than(&code);
        // Each guess from its own client address: the per-client limit is not what is tested.
        for n in 1..=3 {
            let r = app.browser().post("/sign-in/email-otp", &json!({"email": email, "otp": wrong})).await;
            assert_eq!((r.status, r.code()), (400, "INVALID_OTP"), "guess {n}");
            let stored = verification_values(&app, &format!("sign-in-otp-{email}")).await;
            assert!(stored.len() == 1 && stored[0].ends_with(&format!(":{n}")), "{stored:?}");
        }
        let r = app.browser().post("/sign-in/email-otp", &json!({"email": email, "otp": code})).await;
        assert_eq!((r.status, r.code(), r.json["message"].as_str()), (403, "TOO_MANY_ATTEMPTS", Some("Too many attempts")));
        let r = app.browser().post("/sign-in/email-otp", &json!({"email": email, "otp": code})).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_OTP"), "the dead code stays dead");
        let fresh = sign_in_code(&app, &email).await;
        assert_eq!(app.browser().post("/sign-in/email-otp", &json!({"email": email, "otp": fresh})).await.status, 200, "a new code works");
    }

    async fn an_expired_code_says_so_and_is_gone(app: TestApp) {
        let email = new_address("late");
        let code = sign_in_code(&app, &email).await;
        let db = app.db().await;
        let backend = db.get_database_backend();
        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DatabaseBackend::Postgres => r#"UPDATE "verification" SET "expiresAt" = $1 WHERE "identifier" = $2"#,
                _ => r#"UPDATE "verification" SET "expiresAt" = ? WHERE "identifier" = ?"#,
            },
            [past.into(), format!("sign-in-otp-{email}").into()],
        ))
        .await
        .unwrap();
        let r = app.browser().post("/sign-in/email-otp", &json!({"email": email, "otp": code})).await;
        assert_eq!((r.status, r.code(), r.json["message"].as_str()), (400, "OTP_EXPIRED", Some("OTP expired")));
        let r = app.browser().post("/sign-in/email-otp", &json!({"email": email, "otp": code})).await;
        assert_eq!(r.code(), "INVALID_OTP", "and then it is gone");
    }

    async fn unknown_addresses_get_the_same_answer_and_no_mail(app: TestApp) {
        let (_, known) = app.new_user("known").await;
        let unknown = new_address("nobody");
        for (path, body) in [
            ("/email-otp/send-verification-otp", json!({"type": "email-verification"})),
            ("/email-otp/send-verification-otp", json!({"type": "forget-password"})),
            ("/email-otp/request-password-reset", json!({})),
            ("/forget-password/email-otp", json!({})),
        ] {
            let mut answers = Vec::new();
            for email in [&known, &unknown] {
                let mut body = body.clone();
                body["email"] = json!(email);
                let r = app.browser().post(path, &body).await;
                answers.push((r.status, r.text));
            }
            assert_eq!(answers[0], answers[1], "{path} {body}");
            assert_eq!(answers[0], (200, r#"{"success":true}"#.to_owned()));
        }
        app.wait_mail("email-otp", &known).await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(app.mails().iter().all(|m| m["to"] != unknown.as_str()), "nothing mailed to an unknown address");
        for purpose in ["email-verification", "forget-password"] {
            assert!(verification_values(&app, &format!("{purpose}-otp-{unknown}")).await.is_empty(), "no code kept for {purpose}");
        }

        let r = app.browser().post("/email-otp/send-verification-otp", &json!({"email": known, "type": "change-email"})).await;
        assert_eq!((r.status, r.json["message"].as_str()), (400, Some("Invalid OTP type")));
        let r = app.browser().post("/email-otp/send-verification-otp", &json!({"email": known, "type": "bogus"})).await;
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
        assert!(r.json["message"].as_str().unwrap().starts_with("[body.type] Invalid option: expected one of \"email-verification\"|"), "{}", r.text);
        let r = app.browser().post("/email-otp/send-verification-otp", &json!({"email": "not-an-address", "type": "sign-in"})).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_EMAIL"));
    }

    async fn a_code_verifies_the_address(app: TestApp) {
        let (b, email) = app.new_user("verify").await;
        assert_eq!(signed_in(&b).await["user"]["emailVerified"], false);
        let code = mailed_code(&app, "/email-otp/send-verification-otp", json!({"email": email, "type": "email-verification"})).await;
        let r = app.browser().post("/email-otp/verify-email", &json!({"email": email, "otp": other_than(&code)})).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_OTP"));
        let r = b.post("/email-otp/verify-email", &json!({"email": email, "otp": code})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.json["status"].as_bool(), r.json["token"].is_null(), r.json["user"]["emailVerified"].as_bool()), (Some(true), true, Some(true)));
        assert_eq!(signed_in(&b).await["user"]["emailVerified"], true, "the session sees it at once");
    }

    async fn a_code_resets_the_password_and_ends_every_session(app: TestApp) {
        let (b, email) = app.new_user("reset").await;
        let code = mailed_code(&app, "/email-otp/request-password-reset", json!({"email": email})).await;
        // Checking leaves the code usable for the reset that follows.
        let r = app.browser().post("/email-otp/check-verification-otp", &json!({"email": email, "type": "forget-password", "otp": code})).await;
        assert_eq!(r.json, json!({"success": true}), "{}", r.text);
        let r = app.browser().post("/email-otp/reset-password", &json!({"email": email, "otp": code, "password": "short"})).await;
        assert_eq!((r.status, r.code()), (400, "PASSWORD_TOO_SHORT"));
        let r = app.browser().post("/email-otp/reset-password", &json!({"email": email, "otp": code, "password": "brand-new-password"})).await;
        assert_eq!(r.json, json!({"success": true}), "{}", r.text);
        assert!(signed_in(&b).await.is_null(), "the old session ended");
        let old = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(old.code(), "INVALID_EMAIL_OR_PASSWORD");
        let new = app.browser().post("/sign-in/email", &json!({"email": email, "password": "brand-new-password"})).await;
        assert_eq!((new.status, new.json["user"]["emailVerified"].as_bool()), (200, Some(true)), "the code proved the address too");
        let r = app.browser().post("/email-otp/reset-password", &json!({"email": email, "otp": code, "password": "another-password-1"})).await;
        assert_eq!(r.code(), "INVALID_OTP", "a reset code works once");
    }

    async fn signing_in_by_code_ends_an_unproven_accounts_password(app: TestApp) {
        let (squatter, email) = app.new_user("squat").await;
        let code = sign_in_code(&app, &email).await;
        let owner = app.browser();
        assert_eq!(owner.post("/sign-in/email-otp", &json!({"email": email, "otp": code})).await.status, 200);
        assert_eq!(signed_in(&owner).await["user"]["emailVerified"], true);
        assert!(signed_in(&squatter).await.is_null(), "the squatter's session is gone");
        let r = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.code(), "INVALID_EMAIL_OR_PASSWORD", "and so is the password");
    }

    async fn email_change_by_code_is_off_unless_enabled(app: TestApp) {
        let (b, _) = app.new_user("nochange").await;
        let r = b.post("/email-otp/request-email-change", &json!({"newEmail": new_address("moved")})).await;
        assert_eq!((r.status, r.json["message"].as_str()), (400, Some("Change email with OTP is disabled")));
        let r = app.browser().post("/email-otp/change-email", &json!({"newEmail": new_address("moved"), "otp": "123456"})).await;
        assert_eq!(r.status, 401, "a session is needed");
    }
}

per_backend! {
    async fn email_change_by_code_moves_the_account(backend) {
        let Some(app) = TestApp::spawn_with(backend, &[("EMAIL_OTP_CHANGE_EMAIL", "1")]).await else { return };
        let (b, email) = app.new_user("change").await;
        let (_, taken) = app.new_user("taken").await;
        let r = b.post("/email-otp/request-email-change", &json!({"newEmail": email.to_uppercase()})).await;
        assert_eq!((r.status, r.json["message"].as_str()), (400, Some("Email is the same")));

        // A taken address gets the same answer and no code.
        let r = b.post("/email-otp/request-email-change", &json!({"newEmail": taken})).await;
        assert_eq!(r.json, json!({"success": true}));

        let target = new_address("moved");
        let codes = || -> Vec<Value> {
            app.mails().into_iter().filter(|m| m["kind"] == "email-otp" && m["to"] == target.as_str()).collect()
        };
        let r = b.post("/email-otp/request-email-change", &json!({"newEmail": target})).await;
        assert_eq!(r.json, json!({"success": true}), "{}", r.text);
        let code = wait_new_code(&codes, &[]).await;
        assert_eq!(codes()[0]["type"], "change-email");

        // The code is bound to the user who asked: someone else's session cannot use it.
        let (intruder, _) = app.new_user("intruder").await;
        let r = intruder.post("/email-otp/change-email", &json!({"newEmail": target, "otp": code})).await;
        assert_eq!(r.code(), "INVALID_OTP");

        let r = b.post("/email-otp/change-email", &json!({"newEmail": target, "otp": code})).await;
        assert_eq!(r.json, json!({"success": true}), "{}", r.text);
        let session = signed_in(&b).await;
        assert_eq!((session["user"]["email"].as_str(), session["user"]["emailVerified"].as_bool()), (Some(target.as_str()), Some(true)));
        assert!(app.mails().iter().all(|m| !(m["kind"] == "email-otp" && m["to"] == taken.as_str())), "no code to a taken address");
    }

    async fn an_email_change_can_require_the_current_addresss_code(backend) {
        let flags = [("EMAIL_OTP_CHANGE_EMAIL", "1"), ("EMAIL_OTP_VERIFY_CURRENT_EMAIL", "1")];
        let Some(app) = TestApp::spawn_with(backend, &flags).await else { return };
        let (b, email) = app.new_user("current").await;
        let target = new_address("target");
        let r = b.post("/email-otp/request-email-change", &json!({"newEmail": target})).await;
        assert_eq!((r.status, r.json["message"].as_str()), (400, Some("OTP is required to verify current email")));
        let current = mailed_code(&app, "/email-otp/send-verification-otp", json!({"email": email, "type": "email-verification"})).await;
        let r = b.post("/email-otp/request-email-change", &json!({"newEmail": target, "otp": other_than(&current)})).await;
        assert_eq!(r.code(), "INVALID_OTP");
        let r = b.post("/email-otp/request-email-change", &json!({"newEmail": target, "otp": current})).await;
        assert_eq!(r.json, json!({"success": true}), "{}", r.text);
        assert_eq!(app.wait_mail("email-otp", &target).await["type"], "change-email");
    }

    async fn email_otp_can_be_switched_off(backend) {
        let Some(app) = TestApp::spawn_with(backend, &[("EMAIL_OTP", "0")]).await else { return };
        let r = app.browser().post("/email-otp/send-verification-otp", &json!({"email": new_address("off"), "type": "sign-in"})).await;
        assert_eq!((r.status, r.text.as_str()), (404, ""));
    }
}
