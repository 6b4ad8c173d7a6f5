//! Rotating the deployment secret: a new secret listed first in `CASTELLAN_SECRETS`, the old one
//! kept, then `castellan secrets rotate`, then the old one retired. Sessions, two-factor
//! enrolments and JWT signing keys survive each step.

use castellan_config::Settings;
use castellan_e2e::{Browser, PASSWORD, Storage, TestApp, oathtool, oathtool_ahead};
use serde_json::{Value, json};

const OLD: &str = "e2e-secret-0123456789abcdef0123456789";
const NEW: &str = "rotated-secret-9876543210fedcba98765";
const SESSION: &str = "better-auth.session_token";

/// A replica on `storage` whose only secrets are the versioned list `secrets`.
async fn replica(storage: &Storage, secrets: &str) -> TestApp {
    TestApp::spawn_on(
        storage.share(),
        &[("CASTELLAN_SECRET", ""), ("CASTELLAN_SECRETS", secrets)],
    )
    .await
}

/// Signs `email` in on `app` through the TOTP challenge with the code `steps` ahead (each code
/// signs in once); the browser holds the new session.
async fn sign_in_with_totp(app: &TestApp, email: &str, uri: &str, steps: i64) -> Browser {
    let b = app.browser();
    let r = b
        .post("/sign-in/email", &json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.json["twoFactorRedirect"], true, "{}", r.text);
    let code = oathtool_ahead(uri, steps).unwrap();
    let v = b.post("/two-factor/verify-totp", &json!({"code": code})).await;
    assert_eq!(v.status, 200, "the TOTP secret did not open: {}", v.text);
    assert_eq!(b.session().await["user"]["email"], email);
    b
}

async fn rotate(storage: &Storage, secrets: &str) -> castellan::secrets::Rotation {
    let settings = Settings::from_vars(
        [
            ("DATABASE_URL", storage.database_url.as_str()),
            ("CASTELLAN_SECRETS", secrets),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    )
    .unwrap();
    castellan::secrets::rotate(&settings).await.unwrap()
}

fn kid(token: &Value) -> String {
    jsonwebtoken::decode_header(token.as_str().unwrap())
        .unwrap()
        .kid
        .unwrap()
}

per_backend! {
    async fn sessions_two_factor_and_signing_keys_survive_a_rotation(backend) {
        let Some(storage) = Storage::fresh(backend).await else { return };
        let before = TestApp::spawn_on(storage.share(), &[]).await;
        assert_eq!(before.secret, OLD);
        let (b, email) = before.new_user("rotate").await;
        let en = b.post("/two-factor/enable", &json!({"password": PASSWORD})).await;
        let uri = en.json["totpURI"].as_str().unwrap().to_owned();
        let Some(code) = oathtool(&uri) else { return };
        assert_eq!(b.post("/two-factor/verify-totp", &json!({"code": code})).await.status, 200);
        let old_kid = kid(&b.get("/token").await.json["token"]);
        let old_cookie = b.cookie(SESSION).unwrap();

        // The new secret goes first; the old one stays listed.
        let both = format!("2:{NEW},1:{OLD}");
        let during = replica(&storage, &both).await;
        let carried = during.browser();
        carried.set_cookie(SESSION, &old_cookie);
        assert_eq!(carried.session().await["user"]["email"], email, "a cookie signed before the rotation");
        let fresh = sign_in_with_totp(&during, &email, &uri, 0).await;
        assert_eq!(kid(&fresh.get("/token").await.json["token"]), old_kid, "the signing key still opens");
        // New cookies are signed with the new secret, which the old deployment does not know.
        let stranger = before.browser();
        stranger.set_cookie(SESSION, &fresh.cookie(SESSION).unwrap());
        assert_eq!(stranger.session().await, Value::Null);

        // Re-encrypt: the TOTP secret, the backup codes and the signing key (once the sign-up
        // mail has left the outbox, so it is not counted).
        let db = before.db().await;
        for _ in 0..100 {
            if castellan_data::repo::mail_outbox::waiting(&db).await.unwrap() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // A linked provider account: its access token sealed under the old secret, its refresh
        // token in plain text as a Better Auth database without encryptOAuthTokens keeps it.
        let user_id = b.session().await["user"]["id"].as_str().unwrap().to_owned();
        let sealed_access = castellan_crypto::symmetric::encrypt(OLD, "provider-access-token").unwrap();
        use castellan_data::repo::accounts;
        let linked = accounts::insert_oauth(
            &db,
            "github",
            "4242",
            &user_id,
            accounts::StoredTokens { access_token: Some(sealed_access), refresh_token: Some("gho_plain".into()), ..Default::default() },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let done = rotate(&storage, &both).await;
        assert_eq!((done.resealed, done.unreadable), (4, 0), "{done}");
        let rows = castellan_data::repo::sealed::two_factor(&db).await.unwrap();
        assert!(rows.iter().all(|(_, s, c)| s.starts_with("$ba$2$") && c.starts_with("$ba$2$")), "{:?}", rows.len());
        let account = accounts::find_linked(&db, "github", "4242").await.unwrap().unwrap();
        assert_eq!(account.id, linked.id);
        let access = account.access_token.unwrap();
        assert!(access.starts_with("$ba$2$"), "the provider token is resealed");
        assert_eq!(castellan_crypto::symmetric::decrypt(NEW, access.trim_start_matches("$ba$2$")).unwrap(), "provider-access-token");
        assert_eq!(account.refresh_token.as_deref(), Some("gho_plain"), "a plain token is left alone");
        let again = rotate(&storage, &both).await;
        assert_eq!((again.resealed, again.already_current), (0, 4), "{again}");

        // The old secret retired: everything sealed still opens.
        let after = replica(&storage, &format!("2:{NEW}")).await;
        let signed_in = sign_in_with_totp(&after, &email, &uri, 1).await;
        assert_eq!(kid(&signed_in.get("/token").await.json["token"]), old_kid);
        let jwks = signed_in.get("/jwks").await;
        assert!(jwks.json["keys"].as_array().unwrap().iter().any(|k| k["kid"] == old_kid.as_str()));
        // Cookies signed by the retired secret are not accepted any more; the new ones are.
        let retired = after.browser();
        retired.set_cookie(SESSION, &old_cookie);
        assert_eq!(retired.session().await, Value::Null);
        let current = after.browser();
        current.set_cookie(SESSION, &fresh.cookie(SESSION).unwrap());
        assert_eq!(current.session().await["user"]["email"], email);
    }
}

#[tokio::test]
async fn rotating_without_a_versioned_secret_is_refused() {
    let settings = Settings::from_vars(
        [("DATABASE_URL", "sqlite::memory:"), ("CASTELLAN_SECRET", OLD)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
    .unwrap();
    let err = castellan::secrets::rotate(&settings)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("CASTELLAN_SECRETS"), "{err}");
}
