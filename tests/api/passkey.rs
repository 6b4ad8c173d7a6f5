//! Passkeys through a software authenticator (`webauthn-authenticator-rs`, independent of the
//! server's ceremony code): registration and sign-in as the official client makes them, the
//! stored row in Better Auth's shape, and the faults a relying party must refuse: another
//! origin, another RP id, a replayed challenge, a counter that goes backwards, a ceremony begun
//! by someone else, and another user's passkey.

use castellan_e2e::{Backend, Browser, TestApp};
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{CreationChallengeResponse, RequestChallengeResponse};

/// The challenge cookie, as the browser holds it.
const CHALLENGE_COOKIE: &str = "better-auth.better-auth-passkey";

/// A server whose relying party is `localhost` (WebAuthn needs a domain, and the test servers
/// listen on an address), with the page's origin trusted.
async fn passkey_app(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[
            ("PASSKEY_RP_ID", "localhost"),
            ("TRUSTED_ORIGINS", "http://localhost:*"),
        ],
    )
    .await
}

fn page_origin(app: &TestApp) -> String {
    format!("http://localhost:{}", app.port)
}

/// A browser on the page's origin, signed up and signed in.
async fn signed_in(app: &TestApp, tag: &str) -> Browser {
    let (b, _) = app.new_user(tag).await;
    b.from_origin(&page_origin(app))
}

/// What `navigator.credentials.create` answers for `options`, made at `origin`.
fn create(authenticator: &mut WebauthnAuthenticator<SoftPasskey>, origin: &str, options: &Value) -> Value {
    let options: CreationChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let credential = authenticator
        .do_registration(Url::parse(origin).unwrap(), options)
        .unwrap();
    serde_json::to_value(credential).unwrap()
}

/// What `navigator.credentials.get` answers, for the credential a discoverable authenticator
/// would pick itself.
fn get(
    authenticator: &mut WebauthnAuthenticator<SoftPasskey>,
    origin: &str,
    options: &Value,
    credential_id: &str,
) -> Value {
    let mut options = options.clone();
    options["allowCredentials"] = json!([{ "type": "public-key", "id": credential_id }]);
    let options: RequestChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let assertion = authenticator
        .do_authentication(Url::parse(origin).unwrap(), options)
        .unwrap();
    serde_json::to_value(assertion).unwrap()
}

/// Registers a passkey for `b`'s user; returns the stored passkey as the server answered.
async fn register(
    app: &TestApp,
    b: &Browser,
    authenticator: &mut WebauthnAuthenticator<SoftPasskey>,
    name: &str,
) -> Value {
    let options = b.get("/passkey/generate-register-options").await;
    assert_eq!(options.status, 200, "{}", options.text);
    let answer = create(authenticator, &page_origin(app), &options.json);
    let r = b
        .post(
            "/passkey/verify-registration",
            &json!({"response": answer, "name": name}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

/// Begins a sign-in in a fresh browser on the page; returns it and the options.
async fn begin_sign_in(app: &TestApp) -> (Browser, Value) {
    let b = app.browser().from_origin(&page_origin(app));
    let options = b.get("/passkey/generate-authenticate-options").await;
    assert_eq!(options.status, 200, "{}", options.text);
    (b, options.json)
}

per_backend! {
    async fn a_passkey_registers_and_signs_in_without_a_second_factor(backend) {
        let Some(app) = passkey_app(backend).await else { return };
        let b = signed_in(&app, "pk").await;
        let me = b.session().await;
        let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));

        let options = b.get("/passkey/generate-register-options").await;
        assert_eq!(options.json["rp"], json!({"name": "Castellan", "id": "localhost"}));
        assert_eq!(options.json["user"]["name"], me["user"]["email"]);
        assert_ne!(options.json["user"]["id"], me["user"]["id"], "the user handle is not the user id");
        assert_eq!(options.json["authenticatorSelection"]["residentKey"], "preferred");
        assert_eq!(options.json["attestation"], "none");
        let algorithms: Vec<i64> = options.json["pubKeyCredParams"].as_array().unwrap().iter().map(|p| p["alg"].as_i64().unwrap()).collect();
        assert_eq!(algorithms, [-8, -7, -257], "Ed25519, P-256 and RSA, as Better Auth offers");
        assert!(options.set_cookies().iter().any(|c| c.starts_with(&format!("{CHALLENGE_COOKIE}=")) && c.contains("Max-Age=300") && c.contains("HttpOnly")));

        let answer = create(&mut authenticator, &page_origin(&app), &options.json);
        let stored = b.post("/passkey/verify-registration", &json!({"response": answer, "name": "  Laptop  "})).await;
        assert_eq!(stored.status, 200, "{}", stored.text);
        assert_eq!(stored.json["name"], "Laptop");
        assert_eq!(stored.json["userId"], me["user"]["id"]);
        assert_eq!(stored.json["credentialID"], answer["rawId"]);
        assert_eq!((stored.json["counter"].as_i64(), stored.json["deviceType"].as_str()), (Some(0), Some("singleDevice")));
        assert_eq!(stored.json["aaguid"], "00000000-0000-0000-0000-000000000000");
        // Better Auth's encoding: the COSE key in standard base64 (an EC2 P-256 map starts `pQEC`).
        assert!(stored.json["publicKey"].as_str().unwrap().starts_with("pQEC"), "{}", stored.json["publicKey"]);

        let listed = b.get("/passkey/list-user-passkeys").await;
        assert_eq!(listed.json, json!([stored.json.clone()]));

        // Two-factor on: a password sign-in is challenged, a passkey sign-in is not (it is both
        // factors).
        let en = b.post("/two-factor/enable", &json!({"password": castellan_e2e::PASSWORD})).await;
        let code = castellan_e2e::oathtool(en.json["totpURI"].as_str().unwrap()).expect("oathtool");
        assert_eq!(b.post("/two-factor/verify-totp", &json!({"code": code})).await.status, 200);
        let by_password = app.browser().post("/sign-in/email", &json!({"email": me["user"]["email"], "password": castellan_e2e::PASSWORD})).await;
        assert_eq!(by_password.json["twoFactorRedirect"], true, "{}", by_password.text);

        // Sign in with it from a browser that knows nobody.
        let (fresh, options) = begin_sign_in(&app).await;
        assert_eq!(options["rpId"], "localhost");
        assert_eq!(options["allowCredentials"], json!([]), "discoverable: no user named");
        let assertion = get(&mut authenticator, &page_origin(&app), &options, stored.json["credentialID"].as_str().unwrap());
        let r = fresh.post("/passkey/verify-authentication", &json!({"response": assertion})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["user"]["id"], me["user"]["id"]);
        let session = fresh.session().await;
        assert_eq!(session["user"]["id"], me["user"]["id"]);
        assert_eq!(session["session"]["authMethod"], "passkey");
        assert_eq!(b.get("/passkey/list-user-passkeys").await.json[0]["counter"], 1, "the counter moved");

        // Rename, then delete.
        let id = stored.json["id"].as_str().unwrap();
        let renamed = b.post("/passkey/update-passkey", &json!({"id": id, "name": "Work laptop"})).await;
        assert_eq!(renamed.json["passkey"]["name"], "Work laptop", "{}", renamed.text);
        let blank = b.post("/passkey/update-passkey", &json!({"id": id, "name": "   "})).await;
        assert_eq!((blank.status, blank.code()), (400, "VALIDATION_ERROR"));
        let deleted = b.post("/passkey/delete-passkey", &json!({"id": id})).await;
        assert_eq!(deleted.json, json!({"status": true}));
        assert_eq!(b.get("/passkey/list-user-passkeys").await.json, json!([]));
        let (late, options) = begin_sign_in(&app).await;
        let assertion = get(&mut authenticator, &page_origin(&app), &options, stored.json["credentialID"].as_str().unwrap());
        let r = late.post("/passkey/verify-authentication", &json!({"response": assertion})).await;
        assert_eq!((r.status, r.code()), (401, "PASSKEY_NOT_FOUND"), "a deleted passkey signs no one in");
    }

    async fn a_challenge_is_single_use_and_bound_to_its_browser(backend) {
        let Some(app) = passkey_app(backend).await else { return };
        let b = signed_in(&app, "pkr").await;
        let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
        let stored = register(&app, &b, &mut authenticator, "key").await;
        let credential_id = stored["credentialID"].as_str().unwrap();

        let (first, options) = begin_sign_in(&app).await;
        let cookie = first.cookie(CHALLENGE_COOKIE).expect("the challenge cookie");
        let assertion = get(&mut authenticator, &page_origin(&app), &options, credential_id);
        assert_eq!(first.post("/passkey/verify-authentication", &json!({"response": assertion})).await.status, 200);

        // The same answer again, with the same cookie put back: the challenge is spent.
        let replay = app.browser().from_origin(&page_origin(&app));
        replay.set_cookie(CHALLENGE_COOKIE, &cookie);
        let r = replay.post("/passkey/verify-authentication", &json!({"response": assertion})).await;
        assert_eq!((r.status, r.code()), (400, "CHALLENGE_NOT_FOUND"), "{}", r.text);
        assert!(replay.session().await.is_null());

        // An answer without the browser's cookie finds no ceremony.
        let (_, options) = begin_sign_in(&app).await;
        let assertion = get(&mut authenticator, &page_origin(&app), &options, credential_id);
        let stranger = app.browser().from_origin(&page_origin(&app));
        let r = stranger.post("/passkey/verify-authentication", &json!({"response": assertion})).await;
        assert_eq!((r.status, r.code()), (400, "CHALLENGE_NOT_FOUND"));

        // A forged cookie (unsigned) is no cookie.
        let forged = app.browser().from_origin(&page_origin(&app));
        forged.set_cookie(CHALLENGE_COOKIE, cookie.split('.').next().unwrap());
        let r = forged.post("/passkey/verify-authentication", &json!({"response": assertion})).await;
        assert_eq!(r.code(), "CHALLENGE_NOT_FOUND");
    }

    async fn answers_for_another_origin_or_rp_id_are_refused(backend) {
        let Some(app) = passkey_app(backend).await else { return };
        let b = signed_in(&app, "pko").await;
        let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));

        // Made on another page than the one the browser is on.
        let options = b.get("/passkey/generate-register-options").await;
        let answer = create(&mut authenticator, "http://localhost:1", &options.json);
        let r = b.post("/passkey/verify-registration", &json!({"response": answer})).await;
        assert_eq!((r.status, r.code()), (400, "FAILED_TO_VERIFY_REGISTRATION"), "{}", r.text);

        // Made for another relying party: a replica of the same store configured for
        // `other.example` is asked to accept a credential scoped to `localhost`.
        let other = TestApp::spawn_on(
            app.storage.share(),
            &[
                ("PASSKEY_RP_ID", "other.example"),
                ("PASSKEY_ORIGIN", &page_origin(&app)),
                ("TRUSTED_ORIGINS", "http://localhost:*"),
            ],
        )
        .await;
        let options = b.get("/passkey/generate-register-options").await;
        let answer = create(&mut authenticator, &page_origin(&app), &options.json);
        let cookie = b.cookie(CHALLENGE_COOKIE).unwrap();
        let client = reqwest::Client::new();
        let session_cookie = b.cookie("better-auth.session_token").unwrap();
        let r = client
            .post(format!("{}/passkey/verify-registration", other.auth_url))
            .header("origin", page_origin(&app))
            .header("cookie", format!("{CHALLENGE_COOKIE}={cookie}; better-auth.session_token={session_cookie}"))
            .json(&json!({"response": answer}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "FAILED_TO_VERIFY_REGISTRATION");
        assert_eq!(b.get("/passkey/list-user-passkeys").await.json, json!([]), "nothing was stored");

        // And a sign-in answered at another origin.
        let stored = register(&app, &b, &mut authenticator, "key").await;
        let (fresh, options) = begin_sign_in(&app).await;
        let assertion = get(&mut authenticator, "http://localhost:1", &options, stored["credentialID"].as_str().unwrap());
        let r = fresh.post("/passkey/verify-authentication", &json!({"response": assertion})).await;
        assert_eq!((r.status, r.code()), (400, "AUTHENTICATION_FAILED"), "{}", r.text);
        assert!(fresh.session().await.is_null());
    }

    async fn a_signature_counter_that_goes_backwards_is_refused(backend) {
        let Some(app) = passkey_app(backend).await else { return };
        let b = signed_in(&app, "pkc").await;
        let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
        let stored = register(&app, &b, &mut authenticator, "key").await;

        // The server has seen a higher count than this authenticator will send: a clone.
        use sea_orm::{ConnectionTrait, Statement};
        let db = app.db().await;
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            match db.get_database_backend() {
                sea_orm::DatabaseBackend::Postgres => r#"UPDATE "passkey" SET "counter" = 50 WHERE "id" = $1"#,
                _ => r#"UPDATE "passkey" SET "counter" = 50 WHERE "id" = ?"#,
            },
            [stored["id"].as_str().unwrap().into()],
        ))
        .await
        .unwrap();
        let (fresh, options) = begin_sign_in(&app).await;
        let assertion = get(&mut authenticator, &page_origin(&app), &options, stored["credentialID"].as_str().unwrap());
        let r = fresh.post("/passkey/verify-authentication", &json!({"response": assertion})).await;
        assert_eq!((r.status, r.code()), (401, "AUTHENTICATION_FAILED"), "{}", r.text);
        assert!(fresh.session().await.is_null());
        assert_eq!(b.get("/passkey/list-user-passkeys").await.json[0]["counter"], 50, "the stored count is kept");
    }

    async fn passkeys_are_their_owners_alone(backend) {
        let Some(app) = passkey_app(backend).await else { return };
        let alice = signed_in(&app, "pka").await;
        let mallory = signed_in(&app, "pkm").await;
        let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
        let stored = register(&app, &alice, &mut authenticator, "alice's").await;
        let id = stored["id"].as_str().unwrap();

        assert_eq!(mallory.get("/passkey/list-user-passkeys").await.json, json!([]));
        let r = mallory.post("/passkey/delete-passkey", &json!({"id": id})).await;
        assert_eq!((r.status, r.code()), (404, "PASSKEY_NOT_FOUND"));
        let r = mallory.post("/passkey/update-passkey", &json!({"id": id, "name": "mine"})).await;
        assert_eq!((r.status, r.code()), (404, "PASSKEY_NOT_FOUND"));
        assert_eq!(alice.get("/passkey/list-user-passkeys").await.json[0]["name"], "alice's");

        // Alice's registration ceremony, finished with Mallory's session.
        let options = alice.get("/passkey/generate-register-options").await;
        let answer = create(&mut authenticator, &page_origin(&app), &options.json);
        mallory.set_cookie(CHALLENGE_COOKIE, &alice.cookie(CHALLENGE_COOKIE).unwrap());
        let r = mallory.post("/passkey/verify-registration", &json!({"response": answer})).await;
        assert_eq!((r.status, r.code()), (401, "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY"), "{}", r.text);

        // Registering with `createSession` answers the passkey with a new session, and sets it.
        let mut second = WebauthnAuthenticator::new(SoftPasskey::new(true));
        let options = alice.get("/passkey/generate-register-options").await;
        let answer = create(&mut second, &page_origin(&app), &options.json);
        let r = alice.post("/passkey/verify-registration", &json!({"response": answer, "createSession": true})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["userId"], r.json["user"]["id"]);
        assert_eq!(r.json["session"]["userId"], r.json["user"]["id"]);
        let token = r.json["session"]["token"].as_str().unwrap();
        assert!(r.set_cookies().iter().any(|c| c.starts_with(&format!("better-auth.session_token={token}."))), "{:?}", r.set_cookies());
        assert_eq!(alice.get("/passkey/list-user-passkeys").await.json.as_array().unwrap().len(), 2);

        // Registration needs a session of one's own.
        let anonymous = app.browser().from_origin(&page_origin(&app));
        let r = anonymous.get("/passkey/generate-register-options").await;
        assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));
        let r = anonymous.get("/passkey/list-user-passkeys").await;
        assert_eq!(r.status, 401);
        let r = anonymous.post("/passkey/verify-registration", &json!({})).await;
        assert_eq!(r.status, 401);
    }
}

per_backend! {
    async fn the_official_client_registers_and_signs_in_with_a_passkey_in_chromium(backend) {
        if !castellan_e2e::chromium_available() {
            return;
        }
        let Some(app) = passkey_app(backend).await else { return };
        let dir = castellan_e2e::node_suite::private_copy(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser"),
            &format!("browser-passkey-{backend:?}").to_lowercase(),
            &["package.json", "package-lock.json", "run.sh", "passkey.mjs"],
        );
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let shot_prefix = format!("{backend:?}-").to_lowercase();
        let (last, ok) = castellan_e2e::node_suite::run(
            dir,
            vec!["passkey.mjs".into()],
            vec![
                ("PAGE_ORIGIN", page_origin(&app)),
                ("SCREENSHOT_DIR", shots.display().to_string()),
                ("SHOT_PREFIX", shot_prefix.clone()),
            ],
        )
        .await;
        assert!(ok, "the browser scenario failed: {last}");
        let seen: Value = serde_json::from_str(&last).unwrap();
        assert!(seen.get("failure").is_none(), "{seen}");
        assert_eq!(seen["signUp"]["error"], Value::Null, "{seen}");
        assert_eq!((&seen["register"]["error"], &seen["register"]["name"]), (&Value::Null, &json!("Chromium")), "{seen}");
        assert_eq!(seen["listed"][0]["credentialID"], seen["register"]["credentialID"], "{seen}");
        assert_eq!(seen["keyType"], "OKP", "Chromium picks Ed25519, offered first: {seen}");
        assert_eq!(
            seen["authenticatorCredentials"],
            json!([{"isResidentCredential": true, "rpId": "localhost", "signCount": 1}]),
            "a discoverable credential for localhost: {seen}"
        );
        assert_eq!(seen["afterSignOut"], Value::Null, "{seen}");
        assert_eq!((&seen["signIn"]["error"], &seen["signIn"]["email"]), (&Value::Null, &seen["expectedEmail"]), "{seen}");
        assert_eq!(seen["session"], json!({"email": seen["expectedEmail"], "authMethod": "passkey"}), "{seen}");
        assert_eq!(seen["deleted"]["data"], json!({"status": true}), "{seen}");
        assert_eq!(seen["listedAfterDelete"], json!([]), "{seen}");
        assert_eq!(seen["signInAfterDelete"]["error"], json!({"status": 401, "code": "PASSKEY_NOT_FOUND"}), "{seen}");
        for shot in ["passkey-registered", "passkey-signed-in", "passkey-deleted"] {
            assert!(shots.join(format!("{shot_prefix}{shot}.png")).exists(), "{shot}");
        }
    }
}
