//! Social sign-in and generic OAuth against real providers on loopback: the OpenID-certified
//! oidc-provider (../shared/peers/oidc) as a Google-shaped provider and as a generic OIDC
//! provider, and a GitHub-shaped stand-in (tests/src/github.rs). Every test runs on SQLite and
//! on Postgres + Redis.

use serde_json::{Value, json};

use castellan_e2e::github::{self, GitHub, GitHubUser};
use castellan_e2e::peers::{IdpBrowser, Peer, query};
use castellan_e2e::{Backend, Browser, PASSWORD, Storage, TestApp};

/// One test on both backends, each with its own providers.
macro_rules! social_tests {
    ($(async fn $name:ident($s:ident: Social) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($s: Social) $body
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(s) = spawn(Backend::Sqlite).await {
                        run(s).await
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() {
                    if let Some(s) = spawn(Backend::PostgresRedis).await {
                        run(s).await
                    }
                }
            }
        )*
    };
}

/// A Castellan with Google (the OIDC peer), GitHub (the stand-in) and a generic OIDC provider
/// `corp` (the same peer, through discovery).
pub struct Social {
    app: TestApp,
    idp: Option<Peer>,
    github: GitHub,
}

/// The redirect URIs the peer accepts: Castellan's social and generic-OAuth callbacks.
const CALLBACK_PATTERNS: &str =
    "http://127.0.0.1:*/api/auth/callback/*,http://127.0.0.1:*/api/auth/oauth2/callback/*";

async fn spawn(backend: Backend) -> Option<Social> {
    let idp = Peer::oidc(&[("OIDC_REDIRECT_URI_PATTERNS", CALLBACK_PATTERNS)]).await?;
    let storage = Storage::fresh(backend).await?;
    let github = GitHub::start().await;
    let generic = json!([{
        "providerId": "corp",
        "clientId": "castellan-test-post",
        "clientSecret": "castellan-test-secret",
        "discoveryUrl": format!("{}/.well-known/openid-configuration", idp.issuer()),
        "scopes": ["openid", "email", "profile"],
    }])
    .to_string();
    let issuer = idp.issuer();
    let app = TestApp::spawn_on(
        storage,
        &[
            ("GOOGLE_CLIENT_ID", "castellan-test"),
            ("GOOGLE_CLIENT_SECRET", "castellan-test-secret"),
            ("GOOGLE_ISSUER", &issuer),
            ("GOOGLE_SCOPES", "offline_access"),
            ("GITHUB_CLIENT_ID", github::CLIENT_ID),
            ("GITHUB_CLIENT_SECRET", github::CLIENT_SECRET),
            ("GITHUB_URL", &github.base_url),
            ("GITHUB_API_URL", &github.base_url),
            ("GENERIC_OAUTH_PROVIDERS", &generic),
        ],
    )
    .await;
    Some(Social {
        app,
        idp: Some(idp),
        github,
    })
}

impl Social {
    fn issuer(&self) -> String {
        self.idp.as_ref().expect("this test has the OIDC peer").issuer()
    }

    /// Starts `path` (`/sign-in/social`, `/link-social`, ...) in `browser`; returns the provider URL.
    async fn start(&self, browser: &Browser, path: &str, body: Value) -> String {
        let r = browser.post(path, &body).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert!(
            browser.cookie("better-auth.state").is_some(),
            "the state is bound to the browser"
        );
        r.json["url"].as_str().unwrap().to_owned()
    }

    /// Hands the provider's redirect to Castellan in `browser`; returns where it sends the browser.
    async fn deliver(&self, browser: &Browser, callback_url: &str) -> String {
        let path = callback_url
            .strip_prefix(&self.app.auth_url)
            .unwrap_or_else(|| panic!("{callback_url} is not Castellan's"));
        let r = browser.get(path).await;
        assert_eq!(r.status, 302, "callback: {}", r.text);
        r.headers["location"].to_str().unwrap().to_owned()
    }

    /// A full Google sign-in as `email` in `browser`; returns the final redirect.
    async fn google(&self, browser: &Browser, email: &str, password: &str) -> String {
        let url = self
            .start(
                browser,
                "/sign-in/social",
                json!({"provider": "google", "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome"}),
            )
            .await;
        let back = IdpBrowser::default().oidc_login(&url, email, password).await;
        self.deliver(browser, &back).await
    }

    /// The provider's redirect for a GitHub sign-in as the stand-in's chosen user.
    async fn github_callback(&self, browser: &Browser, path: &str, body: Value) -> String {
        let url = self.start(browser, path, body).await;
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302, "the stand-in authorizes at once");
        res.headers()["location"].to_str().unwrap().to_owned()
    }

    /// A whole GitHub sign-in as `user` in a fresh browser; returns where it lands.
    async fn github_sign_in(&self, user: GitHubUser, body: Value) -> String {
        self.github.sign_in_as(user);
        let b = self.app.browser();
        let back = self.github_callback(&b, "/sign-in/social", body).await;
        self.deliver(&b, &back).await
    }

    async fn accounts(&self, browser: &Browser) -> Vec<Value> {
        browser
            .get("/list-accounts")
            .await
            .json
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// Signs up `email` with a password and verifies it through the mailed link.
async fn verified_password_user(app: &TestApp, email: &str) -> Browser {
    let b = app.browser();
    let r = b
        .post(
            "/sign-up/email",
            &json!({"email": email, "password": PASSWORD, "name": "Local"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mail = app.wait_mail("verification", email).await;
    let token = mail["token"].as_str().unwrap();
    let v = b.get(&format!("/verify-email?token={token}")).await;
    assert_eq!(v.status, 200, "{}", v.text);
    b
}

/// The `error` a redirect carries (relative targets included).
fn error_of(location: &str) -> String {
    let absolute = url::Url::parse("http://relative.invalid")
        .unwrap()
        .join(location)
        .unwrap();
    query(absolute.as_str()).get("error").cloned().unwrap_or_default()
}

social_tests! {
    async fn google_sign_in_creates_the_user_then_finds_it(s: Social) {
        let b = s.app.browser();
        let to = s.google(&b, "alice@example.com", "alice-password").await;
        assert_eq!(to, "/welcome", "a new user goes to newUserCallbackURL");
        let session = b.session().await;
        assert_eq!(session["user"]["email"], "alice@example.com");
        assert_eq!(session["user"]["name"], "Alice Example");
        assert_eq!(session["user"]["emailVerified"], true, "the provider verified the address");
        assert_eq!((session["session"]["authMethod"].as_str(), session["session"]["authConnectionId"].as_str()), (Some("social"), Some("google")));
        let accounts = s.accounts(&b).await;
        assert_eq!(accounts.len(), 1);
        assert_eq!((accounts[0]["providerId"].as_str(), accounts[0]["accountId"].as_str()), (Some("google"), Some("alice-0001")));
        assert!(accounts[0].get("accessToken").is_none(), "tokens are never listed");

        // The tokens are sealed at rest, in Better Auth's encryptOAuthTokens format.
        use sea_orm::{ConnectionTrait, Statement};
        let db = s.app.db().await;
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), r#"SELECT "accessToken", "idToken" FROM "account" WHERE "providerId" = 'google'"#))
            .await
            .unwrap()
            .unwrap();
        let access: String = row.try_get("", "accessToken").unwrap();
        let id_token: String = row.try_get("", "idToken").unwrap();
        for sealed in [&access, &id_token] {
            assert!(sealed.bytes().all(|c| c.is_ascii_hexdigit()), "sealed as hex: {sealed}");
            let opened = castellan_crypto::symmetric::decrypt(&s.app.secret, sealed).unwrap();
            assert!(!opened.is_empty());
        }

        let again = s.app.browser();
        assert_eq!(s.google(&again, "alice@example.com", "alice-password").await, "/dashboard", "a returning user goes to callbackURL");
        assert_eq!(again.session().await["user"]["id"], session["user"]["id"]);
        assert_eq!(s.accounts(&again).await.len(), 1, "no second account for the same identity");
    }

    async fn the_state_is_bound_to_the_browser_and_used_once(s: Social) {
        let b = s.app.browser();
        let url = s.start(&b, "/sign-in/social", json!({"provider": "google", "callbackURL": "/dashboard", "errorCallbackURL": "/oops"})).await;
        let back = IdpBrowser::default().oidc_login(&url, "bob@example.com", "bob-password").await;
        let state_cookie = b.cookie("better-auth.state").unwrap();

        let stranger = s.app.browser();
        let refused = s.deliver(&stranger, &back).await;
        assert_eq!((refused.split('?').next(), error_of(&refused).as_str()), (Some("/oops"), "state_mismatch"));
        assert!(stranger.session().await.is_null(), "another browser gets no session");

        assert_eq!(s.deliver(&b, &back).await, "/dashboard", "the right browser still finishes");
        assert_eq!(b.session().await["user"]["email"], "bob@example.com");

        let replay = s.app.browser();
        replay.set_cookie("better-auth.state", &state_cookie);
        let reused = s.deliver(&replay, &back).await;
        assert_eq!(error_of(&reused), "state_mismatch", "a state is taken once");
        let no_state = s.deliver(&replay, &back.replace("state=", "ignored=")).await;
        assert_eq!(error_of(&no_state), "state_not_found");
        assert!(replay.session().await.is_null());
    }

    async fn id_token_faults_end_in_no_session(s: Social) {
        for fault in ["bad_signature", "untrusted_key", "alg_none", "expired", "issued_in_future", "wrong_audience", "wrong_issuer", "wrong_nonce"] {
            let b = s.app.browser();
            let url = s.start(&b, "/sign-in/social", json!({"provider": "google", "callbackURL": "/dashboard"})).await;
            let idp = IdpBrowser::default();
            idp.queue_id_token_fault(&s.issuer(), fault).await;
            let back = idp.oidc_login(&url, "alice@example.com", "alice-password").await;
            let to = s.deliver(&b, &back).await;
            assert_eq!(error_of(&to), "unable_to_get_user_info", "{fault}: {to}");
            assert!(b.session().await.is_null(), "{fault} opened a session");
        }
    }

    async fn an_unverified_provider_address_never_joins_an_existing_user(s: Social) {
        // carol is unverified at the provider; her local account is verified.
        let local = verified_password_user(&s.app, "carol@example.com").await;
        let b = s.app.browser();
        let to = s.google(&b, "carol@example.com", "carol-password").await;
        assert_eq!(error_of(&to), "account_not_linked", "{to}");
        assert!(b.session().await.is_null());
        assert_eq!(s.accounts(&local).await.len(), 1, "the local user keeps only its password");

        // The same for an ID token that calls a verified address unverified.
        let _alice = verified_password_user(&s.app, "alice@example.com").await;
        let b = s.app.browser();
        let url = s.start(&b, "/sign-in/social", json!({"provider": "google", "callbackURL": "/dashboard"})).await;
        let idp = IdpBrowser::default();
        idp.queue_id_token_fault(&s.issuer(), "email_unverified").await;
        let back = idp.oidc_login(&url, "alice@example.com", "alice-password").await;
        assert_eq!(error_of(&s.deliver(&b, &back).await), "account_not_linked");

        // A verified address joins the verified local user.
        let b = s.app.browser();
        assert_eq!(s.google(&b, "alice@example.com", "alice-password").await, "/dashboard");
        let providers: Vec<Value> = s.accounts(&b).await.iter().map(|a| a["providerId"].clone()).collect();
        assert_eq!(providers.len(), 2, "{providers:?}");
    }

    async fn an_unverified_local_account_is_not_handed_to_the_provider_identity(s: Social) {
        // Someone registered bob's address first, without verifying it.
        let squatter = s.app.browser();
        let r = squatter.post("/sign-up/email", &json!({"email": "bob@example.com", "password": PASSWORD, "name": "Squatter"})).await;
        assert_eq!(r.status, 200);
        let b = s.app.browser();
        let to = s.google(&b, "bob@example.com", "bob-password").await;
        assert_eq!(error_of(&to), "account_not_linked", "{to}");
        assert_eq!(s.accounts(&squatter).await.len(), 1);
    }

    async fn link_then_unlink_but_never_the_last_account(s: Social) {
        let b = verified_password_user(&s.app, "bob@example.com").await;
        let url = s.start(&b, "/link-social", json!({"provider": "google", "callbackURL": "/settings"})).await;
        let back = IdpBrowser::default().oidc_login(&url, "bob@example.com", "bob-password").await;
        assert_eq!(s.deliver(&b, &back).await, "/settings");
        let accounts = s.accounts(&b).await;
        let google = accounts.iter().find(|a| a["providerId"] == "google").expect("google linked");
        let credential = accounts.iter().find(|a| a["providerId"] == "credential").unwrap();

        // Another identity with another address is refused.
        let url = s.start(&b, "/link-social", json!({"provider": "google", "callbackURL": "/settings"})).await;
        let back = IdpBrowser::default().oidc_login(&url, "eve@outsider.test", "eve-password").await;
        assert_eq!(error_of(&s.deliver(&b, &back).await), "email_does_not_match");

        let r = b.post("/unlink-account", &json!({"accountId": google["id"]})).await;
        assert_eq!(r.json, json!({"status": true}), "{}", r.text);
        let r = b.post("/unlink-account", &json!({"accountId": credential["id"]})).await;
        assert_eq!((r.status, r.code()), (400, "FAILED_TO_UNLINK_LAST_ACCOUNT"));
        assert_eq!(s.accounts(&b).await.len(), 1);
        let r = b.post("/unlink-account", &json!({"accountId": google["id"]})).await;
        assert_eq!((r.status, r.code()), (400, "FAILED_TO_UNLINK_LAST_ACCOUNT"), "Better Auth checks the count first");
        let r = s.app.browser().post("/unlink-account", &json!({"accountId": google["id"]})).await;
        assert_eq!(r.status, 401);
    }

    async fn an_identity_linked_to_one_user_cannot_be_linked_to_another(s: Social) {
        let first = s.app.browser();
        s.google(&first, "alice@example.com", "alice-password").await;
        let other = verified_password_user(&s.app, "alice-two@example.com").await;
        let url = s.start(&other, "/link-social", json!({"provider": "google", "callbackURL": "/settings"})).await;
        let back = IdpBrowser::default().oidc_login(&url, "alice@example.com", "alice-password").await;
        // Different addresses are refused before the owner is looked at.
        assert_eq!(error_of(&s.deliver(&other, &back).await), "email_does_not_match");
        assert_eq!(s.accounts(&other).await.len(), 1);
    }

    async fn github_sign_in_reads_the_primary_verified_address(s: Social) {
        s.github.sign_in_as(GitHubUser { id: 4242, login: "octo".into(), email: "octo@gh.test".into(), verified: true });
        let b = s.app.browser();
        let back = s.github_callback(&b, "/sign-in/social", json!({"provider": "github", "callbackURL": "/dashboard"})).await;
        assert_eq!(s.deliver(&b, &back).await, "/dashboard");
        let session = b.session().await;
        assert_eq!(session["user"]["email"], "octo@gh.test");
        assert_eq!(session["user"]["name"], "octo", "the login stands in for a missing name");
        assert_eq!(session["user"]["emailVerified"], true);
        let accounts = s.accounts(&b).await;
        assert_eq!(accounts[0]["accountId"], "4242");

        let r = b.post("/get-access-token", &json!({"accountId": accounts[0]["id"]})).await;
        assert!(r.json["accessToken"].as_str().unwrap().starts_with("gho_standin"), "{}", r.text);
        assert_eq!(r.json["scopes"], json!(["read:user", "user:email"]));
        let info = b.get(&format!("/account-info?accountId={}", accounts[0]["id"].as_str().unwrap())).await;
        assert_eq!(info.json["user"]["email"], "octo@gh.test", "{}", info.text);
        assert_eq!(info.json["data"]["login"], "octo");

        // An unverified GitHub address does not join the verified local user.
        let _local = verified_password_user(&s.app, "mona@gh.test").await;
        s.github.sign_in_as(GitHubUser { id: 7, login: "mona".into(), email: "mona@gh.test".into(), verified: false });
        let b = s.app.browser();
        let back = s.github_callback(&b, "/sign-in/social", json!({"provider": "github", "callbackURL": "/dashboard"})).await;
        assert_eq!(error_of(&s.deliver(&b, &back).await), "account_not_linked");
    }

    async fn a_reused_or_forged_code_is_refused(s: Social) {
        s.github.sign_in_as(GitHubUser { id: 99, login: "rex".into(), email: "rex@gh.test".into(), verified: true });
        let b = s.app.browser();
        let back = s.github_callback(&b, "/sign-in/social", json!({"provider": "github", "callbackURL": "/dashboard"})).await;
        let forged = back.replace("code=code-", "code=forged-");
        let to = s.deliver(&b, &forged).await;
        assert_eq!(error_of(&to), "invalid_code", "{to}");
        assert!(b.session().await.is_null());
    }

    async fn tokens_are_refreshed_through_the_provider(s: Social) {
        let b = s.app.browser();
        let url = s
            .start(&b, "/sign-in/social", json!({"provider": "google", "callbackURL": "/dashboard", "additionalParams": {"prompt": "consent"}}))
            .await;
        let back = IdpBrowser::default().oidc_login(&url, "alice@example.com", "alice-password").await;
        assert_eq!(s.deliver(&b, &back).await, "/dashboard");
        let account = s.accounts(&b).await[0]["id"].as_str().unwrap().to_owned();
        let first = b.post("/get-access-token", &json!({"accountId": account})).await;
        assert_eq!(first.status, 200, "{}", first.text);
        let access = first.json["accessToken"].as_str().unwrap().to_owned();
        assert!(first.json["idToken"].as_str().is_some_and(|t| t.split('.').count() == 3));

        let refreshed = b.post("/refresh-token", &json!({"accountId": account})).await;
        assert_eq!(refreshed.status, 200, "{}", refreshed.text);
        assert_eq!(refreshed.json["providerId"], "google");
        assert_eq!(refreshed.json["accountId"], account.as_str());
        assert_ne!(refreshed.json["accessToken"].as_str().unwrap(), access, "a new access token");
        let now = b.post("/get-access-token", &json!({"accountId": account})).await;
        assert_eq!(now.json["accessToken"], refreshed.json["accessToken"]);

        // An access token about to expire is refreshed by get-access-token itself.
        {
            use sea_orm::{ConnectionTrait, Statement};
            let db = s.app.db().await;
            let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
            let sql = format!(r#"UPDATE "account" SET "accessTokenExpiresAt" = '{soon}' WHERE "id" = '{account}'"#);
            db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        }
        let renewed = b.post("/get-access-token", &json!({"accountId": account})).await;
        assert_eq!(renewed.status, 200, "{}", renewed.text);
        assert_ne!(renewed.json["accessToken"], refreshed.json["accessToken"], "refreshed on the way");

        let info = b.get(&format!("/account-info?accountId={account}")).await;
        assert_eq!(info.json["user"]["email"], "alice@example.com", "{}", info.text);
        assert_eq!(info.json["account"]["providerId"], "google");

        let strict = b.post("/get-access-token", &json!({"accountId": account, "providerId": "google"})).await;
        assert_eq!((strict.status, strict.code()), (400, "VALIDATION_ERROR"));
        let missing = b.post("/get-access-token", &json!({"accountId": "nope"})).await;
        assert_eq!((missing.status, missing.code()), (400, "ACCOUNT_NOT_FOUND"));
        let anonymous = s.app.browser().post("/get-access-token", &json!({"accountId": account})).await;
        assert_eq!((anonymous.status, anonymous.text.as_str()), (401, ""));
        let other = s.app.browser();
        s.google(&other, "bob@example.com", "bob-password").await;
        let theirs = other.post("/get-access-token", &json!({"accountId": account})).await;
        assert_eq!((theirs.status, theirs.code()), (400, "ACCOUNT_NOT_FOUND"), "another user's account is not found");
    }

    async fn generic_oauth_signs_in_through_discovery(s: Social) {
        let b = s.app.browser();
        let url = s.start(&b, "/sign-in/oauth2", json!({"providerId": "corp", "callbackURL": "/dashboard"})).await;
        assert!(url.contains("code_challenge_method=S256") && url.contains("nonce="), "PKCE and nonce: {url}");
        let back = IdpBrowser::default().oidc_login(&url, "bob@example.com", "bob-password").await;
        assert!(back.contains("/api/auth/oauth2/callback/corp?"), "{back}");
        assert_eq!(s.deliver(&b, &back).await, "/dashboard");
        assert_eq!(b.session().await["user"]["email"], "bob@example.com");
        assert_eq!(s.accounts(&b).await[0]["providerId"], "corp");

        let r = b.post("/sign-in/oauth2", &json!({"providerId": "nope"})).await;
        assert_eq!((r.status, r.code()), (400, "PROVIDER_CONFIG_NOT_FOUND"));
        let r = b.post("/sign-in/social", &json!({"provider": "nope"})).await;
        assert_eq!((r.status, r.code()), (404, "PROVIDER_NOT_FOUND"));
        let r = b.post("/sign-in/oauth2", &json!({"providerId": "google"})).await;
        assert_eq!((r.status, r.code()), (400, "PROVIDER_CONFIG_NOT_FOUND"), "the generic endpoints serve generic providers only");

        // Better Auth 1.7 serves generic providers through the social endpoints.
        let b = s.app.browser();
        let url = s.start(&b, "/sign-in/social", json!({"provider": "corp", "callbackURL": "/home"})).await;
        assert!(url.contains("callback%2Fcorp") && !url.contains("oauth2%2Fcallback"), "{url}");
        let back = IdpBrowser::default().oidc_login(&url, "bob@example.com", "bob-password").await;
        assert!(back.contains("/api/auth/callback/corp?"), "{back}");
        assert_eq!(s.deliver(&b, &back).await, "/home");
        assert_eq!(b.session().await["user"]["email"], "bob@example.com");
    }

    async fn redirect_targets_must_be_trusted(s: Social) {
        for (key, code) in [("callbackURL", "INVALID_CALLBACK_URL"), ("errorCallbackURL", "INVALID_ERROR_CALLBACK_URL"), ("newUserCallbackURL", "INVALID_NEW_USER_CALLBACK_URL")] {
            for evil in ["https://evil.example/x", "//evil.example", "javascript:alert(1)"] {
                // Sign-in is rate limited per address: one browser per attempt.
                let b = s.app.browser();
                let r = b.post("/sign-in/social", &json!({"provider": "google", key: evil})).await;
                assert_eq!((r.status, r.code()), (403, code), "{key}={evil}");
            }
        }
        let b = s.app.browser();
        let r = b.post("/sign-in/social", &json!({"provider": "google", "additionalParams": {"redirect_uri": "https://evil.example"}})).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_ADDITIONAL_PARAMS"));
        let r = b.post("/sign-in/social", &json!({"provider": "google", "callbackURL": "/x", "disableRedirect": true})).await;
        assert_eq!(r.json["redirect"], false);
        assert!(r.headers.get("location").is_none(), "no Location when the client will not follow it");
    }

    async fn an_id_token_from_the_provider_signs_in_directly(s: Social) {
        let token = peer_id_token(s.idp.as_ref().unwrap(), "alice@example.com", "alice-password", "one-tap-nonce").await;
        let b = s.app.browser();
        let r = b.post("/sign-in/social", &json!({"provider": "google", "idToken": {"token": token, "nonce": "one-tap-nonce"}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.json["redirect"].as_bool(), r.json["user"]["email"].as_str()), (Some(false), Some("alice@example.com")));
        assert_eq!(b.session().await["user"]["email"], "alice@example.com");

        let other = s.app.browser();
        let wrong_nonce = other.post("/sign-in/social", &json!({"provider": "google", "idToken": {"token": token, "nonce": "another"}})).await;
        assert_eq!((wrong_nonce.status, wrong_nonce.code()), (401, "INVALID_TOKEN"));
        // A signature byte changed (not the last character, whose low bits base64 ignores).
        let at = token.len() - 10;
        let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
        let r = other.post("/sign-in/social", &json!({"provider": "google", "idToken": {"token": tampered, "nonce": "one-tap-nonce"}})).await;
        assert_eq!((r.status, r.code()), (401, "INVALID_TOKEN"));
        let r = other.post("/sign-in/social", &json!({"provider": "github", "idToken": {"token": token}})).await;
        assert_eq!((r.status, r.code()), (404, "ID_TOKEN_NOT_SUPPORTED"));
        assert!(other.session().await.is_null());
    }

    async fn a_form_posted_callback_is_sent_on_to_the_get_callback(s: Social) {
        let b = s.app.browser();
        let r = b.post_form_url(&format!("{}/callback/google?x=1", s.app.auth_url), "code=abc&state=xyz&user=%7B%7D".into()).await;
        assert_eq!(r.status, 302, "{}", r.text);
        assert_eq!(
            r.headers["location"].to_str().unwrap(),
            format!("{}/callback/google?code=abc&state=xyz&user=%7B%7D", s.app.auth_url)
        );
    }
}

/// An ID token the peer issues to Castellan's Google client, obtained the way a browser SDK
/// would: the code flow run directly against the provider.
async fn peer_id_token(idp: &Peer, email: &str, password: &str, nonce: &str) -> String {
    let redirect = "http://127.0.0.1:9/api/auth/callback/google";
    let mut authorize = url::Url::parse(&format!("{}/auth", idp.issuer())).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", "castellan-test")
        .append_pair("response_type", "code")
        .append_pair("scope", "openid email profile")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "s")
        .append_pair("nonce", nonce);
    let back = IdpBrowser::default()
        .oidc_login(authorize.as_str(), email, password)
        .await;
    let code = query(&back)["code"].clone();
    let res: Value = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer()))
        .basic_auth("castellan-test", Some("castellan-test-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no id_token: {res}"))
        .to_owned()
}

/// The official Better Auth client signs in through Google (the peer in auto-login mode),
/// through a magic link (`magicLinkClient`) and with mailed codes (`emailOTPClient`), on both
/// backends, one after the other (they share
/// one install of the client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_signs_in_with_google_a_magic_link_and_an_email_code() {
    let Some(dir) = tokio::task::spawn_blocking(|| crate::conformance::prepared_suite("social-client"))
        .await
        .unwrap()
    else {
        return;
    };
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("social-client/social.mjs");
    std::fs::copy(&script, dir.join("social.mjs")).unwrap();
    for backend in [Backend::Sqlite, Backend::PostgresRedis] {
        let Some(idp) = Peer::oidc(&[
            ("OIDC_REDIRECT_URI_PATTERNS", CALLBACK_PATTERNS),
            ("OIDC_AUTO_LOGIN", "alice@example.com"),
            ("OIDC_AUTO_CONSENT", "1"),
        ])
        .await
        else {
            return;
        };
        let Some(storage) = Storage::fresh(backend).await else {
            continue;
        };
        let issuer = idp.issuer();
        let app = TestApp::spawn_on(
            storage,
            &[
                ("GOOGLE_CLIENT_ID", "castellan-test"),
                ("GOOGLE_CLIENT_SECRET", "castellan-test-secret"),
                ("GOOGLE_ISSUER", &issuer),
            ],
        )
        .await;
        // `--list` installs the client (once) and runs nothing.
        let (_, installed) = castellan_e2e::node_suite::run(dir.clone(), vec!["--list".into()], vec![]).await;
        assert!(installed, "installing the official client failed");
        let (dir2, origin, mail_log) = (dir.clone(), app.origin.clone(), app.mail_log.clone());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("node")
                .arg("social.mjs")
                .current_dir(dir2)
                .env("BASE_URL", origin)
                .env("MAIL_LOG", mail_log)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(
            stdout.trim(),
            "PASS social-sign-in\nPASS magic-link\nPASS email-otp",
            "on {backend:?}"
        );
    }
}

/// `DISABLE_IMPLICIT_SIGN_UP`: a new user only when the client asks (`requestSignUp`);
/// `DISABLE_SIGN_UP`: never, while existing users still sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_through_a_provider_can_be_limited() {
    for backend in [Backend::Sqlite, Backend::PostgresRedis] {
        for (switch, on_request) in [
            ("GITHUB_DISABLE_IMPLICIT_SIGN_UP", true),
            ("GITHUB_DISABLE_SIGN_UP", false),
        ] {
            let Some(storage) = Storage::fresh(backend).await else {
                continue;
            };
            let github = GitHub::start().await;
            let app = TestApp::spawn_on(
                storage,
                &[
                    ("GITHUB_CLIENT_ID", github::CLIENT_ID),
                    ("GITHUB_CLIENT_SECRET", github::CLIENT_SECRET),
                    ("GITHUB_URL", &github.base_url),
                    ("GITHUB_API_URL", &github.base_url),
                    (switch, "1"),
                ],
            )
            .await;
            let s = Social {
                app,
                idp: None,
                github,
            };
            let newbie = GitHubUser {
                id: 1,
                login: "newbie".into(),
                email: "newbie@gh.test".into(),
                verified: true,
            };
            let to = s
                .github_sign_in(newbie, json!({"provider": "github", "callbackURL": "/in"}))
                .await;
            assert_eq!(error_of(&to), "signup_disabled", "{switch}");
            let newbie = GitHubUser {
                id: 1,
                login: "newbie".into(),
                email: "newbie@gh.test".into(),
                verified: true,
            };
            let body = json!({"provider": "github", "callbackURL": "/in", "requestSignUp": true});
            let to = s.github_sign_in(newbie, body).await;
            assert_eq!(to == "/in", on_request, "{switch} with requestSignUp: {to}");

            // An existing user still signs in.
            let _local = verified_password_user(&s.app, "old@gh.test").await;
            let old = GitHubUser {
                id: 2,
                login: "old".into(),
                email: "old@gh.test".into(),
                verified: true,
            };
            let to = s
                .github_sign_in(old, json!({"provider": "github", "callbackURL": "/in"}))
                .await;
            assert_eq!(to, "/in", "{switch}: existing users");
        }
    }
}
