//! Better Auth's cookie cache (`SESSION_COOKIE_CACHE=1`): `get-session` answered from a signed
//! `session_data` cookie, its wire format, what it costs (a revocation elsewhere is not seen
//! until it expires) and what keeps it honest (tampering, writes from the browser, opting out).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use castellan_e2e::{Browser, PASSWORD, TestApp};
use serde_json::{Value, json};

const DATA: &str = "better-auth.session_data";

async fn cached_app(backend: castellan_e2e::Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[
            ("SESSION_COOKIE_CACHE", "1"),
            ("SESSION_COOKIE_CACHE_MAX_AGE", "120"),
        ],
    )
    .await
}

fn decoded(cookie: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cookie).unwrap()).unwrap()
}

fn encoded(envelope: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(envelope).unwrap())
}

/// A signed-in browser whose `get-session` has been answered once (which sets the cache).
async fn cached_browser(app: &TestApp, tag: &str) -> (Browser, String, Value) {
    let (b, email) = app.new_user(tag).await;
    let first = b.get("/get-session").await;
    assert_eq!(first.json["user"]["email"], email.as_str(), "{}", first.text);
    let cookie = b.cookie(DATA).expect("get-session sets the cookie cache");
    (b, email, decoded(&cookie))
}

per_backend! {
    async fn get_session_is_answered_from_the_signed_cookie(backend) {
        let Some(app) = cached_app(backend).await else { return };
        let (b, email, envelope) = cached_browser(&app, "cache").await;

        // Better Auth's compact format, signed over the payload and its expiry in that order.
        let payload = &envelope["session"];
        assert_eq!(payload["user"]["email"], email.as_str());
        assert_eq!(payload["version"], "1");
        assert_eq!(payload["session"]["token"].as_str().map(str::len), Some(32));
        let expires_at = envelope["expiresAt"].as_i64().unwrap();
        let updated_at = payload["updatedAt"].as_i64().unwrap();
        assert_eq!(expires_at - updated_at, 120_000, "SESSION_COOKIE_CACHE_MAX_AGE");
        let signed = json!({
            "session": payload["session"], "user": payload["user"],
            "updatedAt": updated_at, "version": "1", "expiresAt": expires_at,
        });
        let expected = castellan_crypto::signing::hmac_b64url(&app.secret, serde_json::to_string(&signed).unwrap().as_bytes());
        assert_eq!(envelope["signature"].as_str(), Some(expected.as_str()));

        // The cost, as documented: a revocation made elsewhere is not seen through the cache...
        let other_device = app.browser();
        assert_eq!(other_device.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await.status, 200);
        assert_eq!(other_device.post("/revoke-other-sessions", &json!({})).await.json, json!({"status": true}));
        let cached = b.get("/get-session").await;
        assert_eq!(cached.json["user"]["email"], email.as_str(), "answered from the cookie");
        assert_eq!(cached.json["session"], payload["session"]);
        assert!(cached.headers.contains_key("set-auth-jwt"), "the JWT still rides along");
        // ...but every other endpoint asks the store, and the app can ask for a fresh answer.
        assert_eq!(b.get("/list-sessions").await.status, 401);
        let fresh = b.get("/get-session?disableCookieCache=true").await;
        assert_eq!(fresh.json, Value::Null);
    }

    async fn a_tampered_or_foreign_cookie_is_not_believed(backend) {
        let Some(app) = cached_app(backend).await else { return };
        let (b, email, mut envelope) = cached_browser(&app, "tamper").await;
        envelope["session"]["user"]["role"] = json!("admin");
        b.set_cookie(DATA, &encoded(&envelope));
        let r = b.get("/get-session").await;
        assert_eq!((r.json["user"]["email"].as_str(), r.json["user"]["role"].as_str()), (Some(email.as_str()), Some("user")), "the store answered");
        assert_eq!(decoded(&b.cookie(DATA).unwrap())["session"]["user"]["role"], "user", "and re-issued a genuine cookie");

        // Another user's genuine cookie does not stand in for this browser's session.
        let (_, _, other) = cached_browser(&app, "other").await;
        b.set_cookie(DATA, &encoded(&other));
        assert_eq!(b.get("/get-session").await.json["user"]["email"], email.as_str());
    }

    async fn a_write_from_the_browser_drops_the_cache(backend) {
        let Some(app) = cached_app(backend).await else { return };
        let (b, _, _) = cached_browser(&app, "write").await;
        let r = b.post("/update-user", &json!({"name": "Renamed"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().starts_with(&format!("{DATA}=;"))), "{:?}", r.headers);
        assert_eq!(b.get("/get-session").await.json["user"]["name"], "Renamed");
        assert_eq!(decoded(&b.cookie(DATA).unwrap())["session"]["user"]["name"], "Renamed");
        // Signing out clears it with the session.
        b.post("/sign-out", &json!({})).await;
        assert!(b.cookie(DATA).is_none());
    }

    async fn without_the_switch_there_is_no_cookie_cache(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let (b, _) = app.new_user("nocache").await;
        assert!(b.get("/get-session").await.json["user"].is_object());
        assert!(b.cookie(DATA).is_none());
    }
}
