//! Bearer tokens and JWTs for downstream backends.

use castellan_e2e::PASSWORD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

/// Verifies `token` against the server's JWKS as a downstream backend would: a standard JOSE
/// library, no call to Castellan besides fetching the keys.
async fn verify_with_jwks(
    app: &castellan_e2e::TestApp,
    token: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: JwkSet = reqwest::get(format!("{}/jwks", app.auth_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = decode_header(token)?.kid.unwrap_or_default();
    let jwk = jwks
        .find(&kid)
        .ok_or(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[app.origin.as_str()]);
    validation.set_audience(&[app.origin.as_str()]);
    Ok(decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

both_backends! {
    async fn bearer_tokens_work_where_cookies_would(app: TestApp) {
        let (_, email) = app.new_user("bearer").await;
        let api = reqwest::Client::new();
        let signin = api
            .post(format!("{}/sign-in/email", app.auth_url))
            .header("x-forwarded-for", "198.18.7.7")
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let signed = signin.headers()["set-auth-token"].to_str().unwrap().to_owned();
        assert!(signin.headers()["access-control-expose-headers"].to_str().unwrap().contains("set-auth-token"));
        let raw = signed.split('.').next().unwrap().to_owned();
        for token in [signed.as_str(), raw.as_str()] {
            let s: Value = api.get(format!("{}/get-session", app.auth_url)).bearer_auth(token).send().await.unwrap().json().await.unwrap();
            assert_eq!(s["user"]["email"], email.as_str(), "{token}");
        }
        let junk: Value = api.get(format!("{}/get-session", app.auth_url)).bearer_auth("abc.def").send().await.unwrap().json().await.unwrap();
        assert_eq!(junk, Value::Null);
        let out = api.post(format!("{}/sign-out", app.auth_url)).bearer_auth(&signed).json(&json!({})).send().await.unwrap();
        assert_eq!(out.status(), 200);
        let after: Value = api.get(format!("{}/get-session", app.auth_url)).bearer_auth(&signed).send().await.unwrap().json().await.unwrap();
        assert_eq!(after, Value::Null, "signing out through the bearer token revoked it");
    }

    async fn jwts_verify_against_the_jwks_with_a_standard_library(app: TestApp) {
        let (b, email) = app.new_user("jwt").await;
        let token = b.get("/token").await.json["token"].as_str().unwrap().to_owned();
        let claims = verify_with_jwks(&app, &token).await.unwrap();
        assert_eq!(claims["email"], email.as_str());
        assert_eq!(claims["sub"], b.session().await["user"]["id"]);
        let exp = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert_eq!(exp, 900, "15-minute tokens");

        let jwks: Value = reqwest::get(format!("{}/jwks", app.auth_url)).await.unwrap().json().await.unwrap();
        let key = &jwks["keys"][0];
        assert_eq!((key["kty"].clone(), key["crv"].clone(), key["alg"].clone()), (json!("OKP"), json!("Ed25519"), json!("EdDSA")));
        assert!(key.get("d").is_none(), "no private material is published");

        let header_jwt = b.get("/get-session").await.headers["set-auth-jwt"].to_str().unwrap().to_owned();
        assert_eq!(verify_with_jwks(&app, &header_jwt).await.unwrap()["email"], email.as_str());
        let again = b.get("/get-session").await.headers["set-auth-jwt"].to_str().unwrap().to_owned();
        assert_eq!(again, header_jwt, "a session's JWT is reused while it is young");
        b.post("/update-user", &json!({"name": "Renamed"})).await;
        let renamed = b.get("/get-session").await.headers["set-auth-jwt"].to_str().unwrap().to_owned();
        assert_eq!(verify_with_jwks(&app, &renamed).await.unwrap()["name"], "Renamed", "a profile change means a new JWT");
        let parts: Vec<&str> = token.split('.').collect();
        use base64::Engine as _;
        let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"admin","email":"admin@e2e.test"}"#);
        assert!(verify_with_jwks(&app, &format!("{}.{forged_payload}.{}", parts[0], parts[2])).await.is_err());
        assert_eq!(app.browser().get("/token").await.status, 401);
    }
}

mod rotation {
    use castellan_e2e::{Backend, TestApp};
    use serde_json::Value;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rotated_keys_stay_published_until_their_tokens_expire() {
        let app = TestApp::spawn_with(Backend::Sqlite, &[("JWT_KEY_ROTATION_SECONDS", "1")])
            .await
            .unwrap();
        let (b, _) = app.new_user("rot").await;
        let first = b.get("/token").await.json["token"].as_str().unwrap().to_owned();
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let second = b.get("/token").await.json["token"].as_str().unwrap().to_owned();
        let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
        assert_ne!(
            kid(&first),
            kid(&second),
            "a new key signs after the rotation interval"
        );
        let jwks: Value = reqwest::get(format!("{}/jwks", app.auth_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(
            kids.contains(&kid(&first).as_str()) && kids.contains(&kid(&second).as_str()),
            "{kids:?}"
        );
        assert!(
            super::verify_with_jwks(&app, &first).await.is_ok(),
            "tokens of the retired key still verify"
        );
    }
}
