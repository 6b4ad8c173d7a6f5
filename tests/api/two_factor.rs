//! Two-factor authentication: TOTP checked against an independent implementation (oathtool),
//! sign-in challenges, backup codes, trusted devices and one-time codes by mail.

use castellan_e2e::{Backend, Browser, PASSWORD, Storage, TestApp, oathtool, oathtool_ahead};
use serde_json::{Value, json};

/// Enables two-factor for a fresh user; returns the browser, email, TOTP URI and backup codes.
async fn enrolled(app: &TestApp, tag: &str) -> Option<(Browser, String, String, Vec<String>)> {
    let (b, email) = app.new_user(tag).await;
    let en = b.post("/two-factor/enable", &json!({"password": PASSWORD})).await;
    assert_eq!(en.status, 200, "{}", en.text);
    let uri = en.json["totpURI"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with(&format!(
            "otpauth://totp/Castellan:{}?",
            email.replace('@', "%40")
        )),
        "{uri}"
    );
    assert_eq!(
        b.session().await["user"]["twoFactorEnabled"],
        false,
        "not on until a code is verified"
    );
    let code = oathtool(&uri)?;
    let v = b.post("/two-factor/verify-totp", &json!({"code": code})).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(b.session().await["user"]["twoFactorEnabled"], true);
    let codes = en.json["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    Some((b, email, uri, codes))
}

async fn challenged(app: &TestApp, email: &str) -> Browser {
    let b = app.browser();
    let r = b
        .post("/sign-in/email", &json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(
        r.json,
        json!({"twoFactorRedirect": true, "twoFactorMethods": ["totp", "otp"]})
    );
    assert!(b.cookie("better-auth.two_factor").is_some());
    assert_eq!(
        b.session().await,
        Value::Null,
        "no session before the second factor"
    );
    b
}

/// Passes `b`'s challenge with `code`; the answer.
async fn verify(b: &Browser, code: &str) -> castellan_e2e::Response {
    b.post("/two-factor/verify-totp", &json!({"code": code})).await
}

both_backends! {
    async fn a_totp_code_signs_in_once(app: TestApp) {
        let Some((_, email, uri, _)) = enrolled(&app, "replay").await else { return };
        // The code that turned two-factor on still signs in once (Better Auth's clients do so).
        let code = oathtool(&uri).unwrap();
        assert_eq!(verify(&challenged(&app, &email).await, &code).await.status, 200);
        let replayed = verify(&challenged(&app, &email).await, &code).await;
        assert_eq!((replayed.status, replayed.code()), (401, "INVALID_CODE"), "RFC 6238 §5.2: a code is accepted once");
        let next = oathtool_ahead(&uri, 1).unwrap();
        let b = challenged(&app, &email).await;
        assert_eq!(verify(&b, &next).await.status, 200, "the next step's code works");
        assert_eq!(b.session().await["user"]["email"], email.as_str());
    }

    async fn totp_sign_in(app: TestApp) {
        let Some((_, email, uri, _)) = enrolled(&app, "totp").await else { return };
        let b = challenged(&app, &email).await;
        let wrong = b.post("/two-factor/verify-totp", &json!({"code": "000000"})).await;
        assert_eq!((wrong.status, wrong.code()), (401, "INVALID_CODE"));
        let ok = b.post("/two-factor/verify-totp", &json!({"code": oathtool(&uri).unwrap()})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!(b.session().await["user"]["email"], email.as_str());
        assert!(b.cookie("better-auth.two_factor").is_none(), "the challenge cookie is cleared");
        let anon = app.browser().post("/two-factor/verify-totp", &json!({"code": "123456"})).await;
        assert_eq!(anon.code(), "INVALID_TWO_FACTOR_COOKIE");
    }

    async fn backup_codes_work_once(app: TestApp) {
        let Some((_, email, _, codes)) = enrolled(&app, "backup").await else { return };
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'));
        let b = challenged(&app, &email).await;
        assert_eq!(b.post("/two-factor/verify-backup-code", &json!({"code": codes[0]})).await.status, 200);
        let again = challenged(&app, &email).await;
        let r = again.post("/two-factor/verify-backup-code", &json!({"code": codes[0]})).await;
        assert_eq!((r.status, r.code()), (401, "INVALID_BACKUP_CODE"));
        assert_eq!(again.post("/two-factor/verify-backup-code", &json!({"code": codes[1]})).await.status, 200);
    }

    async fn trusted_devices_skip_the_second_factor(app: TestApp) {
        let Some((_, email, uri, _)) = enrolled(&app, "trust").await else { return };
        let b = challenged(&app, &email).await;
        let ok = b.post("/two-factor/verify-totp", &json!({"code": oathtool(&uri).unwrap(), "trustDevice": true})).await;
        assert_eq!(ok.status, 200);
        let first = b.cookie("better-auth.trust_device").unwrap();
        b.post("/sign-out", &json!({})).await;
        let r = b.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.json["user"]["email"], email.as_str(), "a trusted device signs straight in: {}", r.text);
        assert_ne!(b.cookie("better-auth.trust_device").unwrap(), first, "the trust cookie rotates");
        // A stolen, already-rotated cookie is worthless.
        let thief = app.browser();
        thief.set_cookie("better-auth.trust_device", &first);
        let r = thief.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.json["twoFactorRedirect"], true);
    }

    async fn one_time_codes_by_mail(app: TestApp) {
        let Some((_, email, _, _)) = enrolled(&app, "otp").await else { return };
        let b = challenged(&app, &email).await;
        assert_eq!(b.post("/two-factor/send-otp", &json!({})).await.json, json!({"status": true}));
        let otp = app.wait_mail("two-factor-otp", &email).await["otp"].as_str().unwrap().to_owned();
        assert_eq!(b.post("/two-factor/verify-otp", &json!({"code": "999999x"})).await.code(), "INVALID_CODE");
        assert_eq!(b.post("/two-factor/verify-otp", &json!({"code": otp})).await.status, 200);
        assert_eq!(b.session().await["user"]["email"], email.as_str());
    }

    async fn ten_wrong_codes_lock_two_factor(app: TestApp) {
        let Some((b, _, uri, _)) = enrolled(&app, "lock").await else { return };
        use sea_orm::ConnectionTrait as _;
        // Nine failures already on record (the two-factor endpoints allow 3 requests per 10 s).
        app.db().await.execute_unprepared(r#"UPDATE "twoFactor" SET "failedVerificationCount" = 9"#).await.unwrap();
        let r = b.post("/two-factor/verify-totp", &json!({"code": "000000"})).await;
        assert_eq!(r.code(), "INVALID_CODE");
        let r = b.post("/two-factor/verify-totp", &json!({"code": oathtool(&uri).unwrap()})).await;
        assert_eq!((r.status, r.code()), (429, "ACCOUNT_TEMPORARILY_LOCKED"), "even the right code waits");
    }

    async fn disabling_needs_the_password(app: TestApp) {
        let Some((b, email, _, _)) = enrolled(&app, "off").await else { return };
        assert_eq!(b.post("/two-factor/disable", &json!({"password": "wrong-password"})).await.code(), "INVALID_PASSWORD");
        assert_eq!(b.post("/two-factor/disable", &json!({"password": PASSWORD})).await.json, json!({"status": true}));
        let r = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.json["user"]["twoFactorEnabled"], false);
    }
}

/// Two replicas on one Postgres and Redis: a code accepted by one is refused by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_accepted_by_one_replica_is_refused_by_another() {
    let Some(storage) = Storage::fresh(Backend::PostgresRedis).await else {
        return;
    };
    let first = TestApp::spawn_on(storage.share(), &[]).await;
    let second = TestApp::spawn_on(storage, &[]).await;
    let Some((_, email, uri, _)) = enrolled(&first, "replica").await else {
        return;
    };
    let code = oathtool_ahead(&uri, 1).unwrap();
    assert_eq!(verify(&challenged(&first, &email).await, &code).await.status, 200);
    let replayed = verify(&challenged(&second, &email).await, &code).await;
    assert_eq!((replayed.status, replayed.code()), (401, "INVALID_CODE"));
}
