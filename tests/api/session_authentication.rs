//! Every session records how it was authenticated (`authMethod`, `authConnectionId`,
//! `authenticatedAt`), and `get-session` shows it: what an organization's "sign in through our
//! IdP" rule is decided from. (Social and SSO sessions are checked in their own tests.)

use castellan_e2e::{Browser, PASSWORD, TestApp, oathtool, oathtool_ahead};
use serde_json::{Value, json};

async fn method(b: &Browser) -> (Option<String>, Value) {
    let s = b.session().await;
    let method = s["session"]["authMethod"].as_str().map(str::to_owned);
    assert!(s["session"]["authenticatedAt"].is_string(), "{s}");
    (method, s["session"]["authConnectionId"].clone())
}

async fn mailed(app: &TestApp, kind: &str, to: &str, field: &str) -> String {
    app.wait_mail(kind, to).await[field].as_str().unwrap().to_owned()
}

both_backends! {
    async fn each_way_in_is_recorded_on_the_session(app: TestApp) {
        // Password (sign-up, then sign-in).
        let (b, email) = app.new_user("how").await;
        assert_eq!(method(&b).await, (Some("password".to_owned()), Value::Null));
        let again = app.browser();
        assert_eq!(again.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await.status, 200);
        assert_eq!(method(&again).await.0.as_deref(), Some("password"));

        // A magic link.
        let linked = format!("{}@how.test", castellan_e2e::unique("ml"));
        app.browser().post("/sign-in/magic-link", &json!({"email": linked})).await;
        let token = mailed(&app, "magic-link", &linked, "token").await;
        let l = app.browser();
        l.get(&format!("/magic-link/verify?token={token}")).await;
        assert_eq!(method(&l).await.0.as_deref(), Some("magic-link"));

        // An email code.
        let coded = format!("{}@how.test", castellan_e2e::unique("otp"));
        app.browser().post("/email-otp/send-verification-otp", &json!({"email": coded, "type": "sign-in"})).await;
        let otp = mailed(&app, "email-otp", &coded, "otp").await;
        let c = app.browser();
        assert_eq!(c.post("/sign-in/email-otp", &json!({"email": coded, "otp": otp})).await.status, 200);
        assert_eq!(method(&c).await.0.as_deref(), Some("email-otp"));

        // A password and a second factor.
        let uri = b.post("/two-factor/enable", &json!({"password": PASSWORD})).await.json["totpURI"].as_str().unwrap().to_owned();
        let Some(code) = oathtool(&uri) else { return };
        assert_eq!(b.post("/two-factor/verify-totp", &json!({"code": code})).await.status, 200);
        assert_eq!(method(&b).await.0.as_deref(), Some("password+totp"), "enabling it renews the session with the factor");
        let t = app.browser();
        assert_eq!(t.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await.json["twoFactorRedirect"], true);
        let next = oathtool_ahead(&uri, 1).unwrap();
        assert_eq!(t.post("/two-factor/verify-totp", &json!({"code": next})).await.status, 200);
        assert_eq!(method(&t).await.0.as_deref(), Some("password+totp"));
    }
}
