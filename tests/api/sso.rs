//! Enterprise SSO against real identity providers on loopback (../shared/peers): the
//! OpenID-certified oidc-provider and a pysaml2 SAML IdP, with dnsmasq serving the TXT records
//! of domain verification. Every test runs on SQLite and on Postgres + Redis.

use serde_json::{Value, json};

use castellan_e2e::peers::{Dns, IdpBrowser, Peer, free_udp_port, query};
use castellan_e2e::{Backend, Browser, Storage, TestApp, orgs};

/// One SSO test on both backends, each on a server that trusts loopback IdPs and asks a DNS
/// server on `$dns` (started by the test when it needs one).
macro_rules! sso_tests {
    ($(async fn $name:ident($app:ident: TestApp, $dns:ident: u16) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: castellan_e2e::TestApp, $dns: u16) $body
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some((app, dns)) = spawn(Backend::Sqlite, &[]).await {
                        run(app, dns).await
                    }
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres_redis() {
                    if let Some((app, dns)) = spawn(Backend::PostgresRedis, &[]).await {
                        run(app, dns).await
                    }
                }
            }
        )*
    };
}

async fn spawn(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, u16)> {
    let dns = free_udp_port();
    let server = format!("127.0.0.1:{dns}");
    let mut vars = vec![
        ("SSO_TRUSTED_IDP_ORIGINS", "http://127.0.0.1:*"),
        ("SSO_DNS_SERVER", server.as_str()),
    ];
    vars.extend_from_slice(extra);
    let storage = Storage::fresh(backend).await?;
    Some((TestApp::spawn_on(storage, &vars).await, dns))
}

/// An organization with its owner.
struct Tenant {
    owner: Browser,
    org_id: String,
}

async fn tenant(app: &TestApp) -> Tenant {
    let (owner, _) = app.new_user("sso-owner").await;
    let org = orgs::create(&owner, "sso").await;
    Tenant {
        owner,
        org_id: org["id"].as_str().unwrap().to_owned(),
    }
}

fn oidc_registration(provider_id: &str, org_id: &str, idp: &Peer, client_id: &str) -> Value {
    json!({
        "providerId": provider_id,
        "issuer": idp.issuer(),
        "domain": "example.com",
        "organizationId": org_id,
        "oidcConfig": {
            "clientId": client_id,
            "clientSecret": "castellan-test-secret",
            "scopes": ["openid", "email", "profile", "groups"],
        },
    })
}

async fn saml_registration(app: &TestApp, provider_id: &str, org_id: &str, idp: &Peer) -> Value {
    json!({
        "providerId": provider_id,
        "issuer": format!("{}/sp/{provider_id}", app.origin),
        "domain": "example.com",
        "organizationId": org_id,
        "samlConfig": {
            "entryPoint": format!("{}/sso/redirect", idp.base_url()),
            "callbackUrl": format!("{}/dashboard", app.origin),
            "idpMetadata": { "metadataUrl": format!("{}/metadata", idp.base_url()) },
        },
    })
}

/// Registers a connection and proves its domain through dnsmasq, as an IT admin would.
async fn register_verified(app: &TestApp, t: &Tenant, dns_port: u16, registration: &Value) -> Option<Dns> {
    let r = t.owner.post("/sso/register", registration).await;
    assert_eq!(r.status, 200, "register: {}", r.text);
    let provider_id = registration["providerId"].as_str().unwrap();
    let token = r.json["domainVerificationToken"].as_str().unwrap().to_owned();
    let label = format!("_better-auth-token-{provider_id}");
    let dns = Dns::serve(
        dns_port,
        &[(&format!("{label}.example.com"), &format!("{label}={token}"))],
    )
    .await?;
    let v = t
        .owner
        .post("/sso/verify-domain", &json!({"providerId": provider_id}))
        .await;
    assert_eq!(v.status, 204, "verify-domain: {}", v.text);
    let _ = app;
    Some(dns)
}

/// `sign-in/sso` in `browser`; returns the IdP URL.
async fn start_sign_in(browser: &Browser, body: Value) -> String {
    let r = browser.post("/sign-in/sso", &body).await;
    assert_eq!(r.status, 200, "sign-in/sso: {}", r.text);
    assert_eq!(r.json["redirect"], true);
    r.json["url"].as_str().unwrap().to_owned()
}

fn relative<'a>(app: &TestApp, url: &'a str) -> &'a str {
    url.strip_prefix(&app.auth_url)
        .unwrap_or_else(|| panic!("{url} is not under {}", app.auth_url))
}

/// Hands the IdP's OIDC redirect to Castellan in `browser`; returns the final redirect.
async fn deliver_oidc(app: &TestApp, browser: &Browser, callback_url: &str) -> (String, Vec<String>) {
    let r = browser.get(relative(app, callback_url)).await;
    assert_eq!(r.status, 302, "callback: {}", r.text);
    let to = r.headers["location"].to_str().unwrap().to_owned();
    (to, r.set_cookies())
}

/// Posts the IdP's SAML response to Castellan's ACS, as the IdP's auto-submitting form does.
async fn deliver_saml(app: &TestApp, browser: &Browser, response: &Value) -> (String, Vec<String>) {
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", response["SAMLResponse"].as_str().unwrap())
        .append_pair("RelayState", response["RelayState"].as_str().unwrap_or(""))
        .finish();
    let acs = response["acs_url"].as_str().unwrap();
    let r = browser
        .post_raw(relative(app, acs), "application/x-www-form-urlencoded", form)
        .await;
    assert_eq!(r.status, 302, "acs: {}", r.text);
    (
        r.headers["location"].to_str().unwrap().to_owned(),
        r.set_cookies(),
    )
}

fn sets_session(cookies: &[String]) -> bool {
    cookies
        .iter()
        .any(|c| c.starts_with("better-auth.session_token=") && !c.contains("Max-Age=0"))
}

async fn member_role(owner: &Browser, org_id: &str, email: &str) -> Option<String> {
    let r = owner
        .get(&format!("/organization/list-members?organizationId={org_id}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["email"] == email)
        .map(|m| m["role"].as_str().unwrap().to_owned())
}

/// An RSA key (PEM) and a self-signed certificate for it (PEM), from the openssl command.
fn self_signed_pair(subject: &str, days: u32) -> (String, String) {
    let dir = std::env::temp_dir().join(castellan_e2e::unique("self-signed-"));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            &days.to_string(),
            "-subj",
            subject,
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pair = (
        std::fs::read_to_string(&key).unwrap(),
        std::fs::read_to_string(&cert).unwrap(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    pair
}

/// The SP's signing key and certificate.
fn sp_key_pair() -> (String, String) {
    self_signed_pair("/CN=castellan-sp", 1)
}

async fn audit_actions(owner: &Browser, org_id: &str) -> Vec<Value> {
    let r = owner
        .get(&format!(
            "/organization/audit-log?organizationId={org_id}&limit=100"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["entries"].as_array().unwrap().clone()
}

sso_tests! {
    async fn oidc_login_provisions_a_member_with_the_role_its_groups_map_to(app: TestApp, dns_port: u16) {
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let t = tenant(&app).await;
        let Some(_dns) = register_verified(&app, &t, dns_port, &oidc_registration("acme-oidc", &t.org_id, &idp, "castellan-test")).await else { return };
        let mapping = t.owner.post("/sso/provisioning", &json!({
            "providerId": "acme-oidc", "roleMapping": {"admins": "admin"}, "defaultRole": "member",
        })).await;
        assert_eq!(mapping.status, 200, "{}", mapping.text);
        assert_eq!(mapping.json["roleMapping"], json!({"admins": "admin"}));

        // Alice (groups admins, engineering) signs in by email domain.
        let alice = app.browser();
        let url = start_sign_in(&alice, json!({"email": "alice@example.com", "callbackURL": "/dashboard"})).await;
        let params = query(&url);
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(params["login_hint"], "alice@example.com");
        assert_eq!(params["state"].len(), 32);
        assert!(!params["nonce"].is_empty(), "a nonce is sent");
        let callback = IdpBrowser::default().oidc_login(&url, "alice@example.com", "alice-password").await;
        let (to, cookies) = deliver_oidc(&app, &alice, &callback).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies), "{cookies:?}");
        let session = alice.session().await;
        assert_eq!(session["user"]["email"], "alice@example.com");
        assert_eq!(session["user"]["name"], "Alice Example");
        assert_eq!(session["user"]["emailVerified"], true, "a verified domain vouches for the address");
        assert_eq!(session["session"]["authMethod"], "sso", "the session records its connection");
        assert!(session["session"]["authConnectionId"].as_str().is_some_and(|c| !c.is_empty()));
        assert_eq!(member_role(&t.owner, &t.org_id, "alice@example.com").await.as_deref(), Some("admin"));

        // Bob (engineering only) gets the default role; by organization slug this time.
        let bob = app.browser();
        let slug = t.owner.get(&format!("/organization/get-full-organization?organizationId={}", t.org_id)).await.json["slug"].clone();
        let url = start_sign_in(&bob, json!({"organizationSlug": slug, "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome"})).await;
        let callback = IdpBrowser::default().oidc_login(&url, "bob@example.com", "bob-password").await;
        let (to, _) = deliver_oidc(&app, &bob, &callback).await;
        assert_eq!(to, "/welcome", "a new user goes to newUserCallbackURL");
        assert_eq!(member_role(&t.owner, &t.org_id, "bob@example.com").await.as_deref(), Some("member"));

        // A second login finds the linked account: no new user, same id.
        let again = app.browser();
        let url = start_sign_in(&again, json!({"providerId": "acme-oidc", "callbackURL": "/dashboard", "newUserCallbackURL": "/welcome"})).await;
        let callback = IdpBrowser::default().oidc_login(&url, "alice@example.com", "alice-password").await;
        let (to, _) = deliver_oidc(&app, &again, &callback).await;
        assert_eq!(to, "/dashboard");
        assert_eq!(again.session().await["user"]["id"], session["user"]["id"]);

        // The client secret is encrypted at rest, and never shown by list/get.
        let db = app.db().await;
        let row = sea_orm::ConnectionTrait::query_one_raw(&db, sea_orm::Statement::from_string(
            db.get_database_backend(), r#"SELECT "oidcConfig" AS c FROM "ssoProvider" WHERE "providerId" = 'acme-oidc'"#,
        )).await.unwrap().unwrap();
        let stored: String = row.try_get("", "c").unwrap();
        assert!(!stored.contains("castellan-test-secret"), "{stored}");
        let shown = t.owner.get("/sso/get-provider?providerId=acme-oidc").await;
        assert_eq!(shown.json["oidcConfig"]["clientIdLastFour"], "****test");
        assert!(!shown.text.contains("castellan-test-secret"), "{}", shown.text);
        assert_eq!(shown.json["domainVerified"], true);

        let actions: Vec<Value> = audit_actions(&t.owner, &t.org_id).await.iter().map(|e| e["action"].clone()).collect();
        for expected in ["sso.connection.created", "sso.domain.verified", "sso.provisioning.updated", "sso.member.provisioned", "sso.login"] {
            assert!(actions.contains(&json!(expected)), "{expected} missing from {actions:?}");
        }
    }

    async fn client_secret_post_clients_sign_in_too(app: TestApp, dns_port: u16) {
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let t = tenant(&app).await;
        let mut registration = oidc_registration("acme-post", &t.org_id, &idp, "castellan-test-post");
        registration["oidcConfig"]["tokenEndpointAuthentication"] = json!("client_secret_post");
        let Some(_dns) = register_verified(&app, &t, dns_port, &registration).await else { return };
        let user = app.browser();
        let url = start_sign_in(&user, json!({"providerId": "acme-post", "callbackURL": "/dashboard"})).await;
        let callback = IdpBrowser::default().oidc_login(&url, "bob@example.com", "bob-password").await;
        let (to, cookies) = deliver_oidc(&app, &user, &callback).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies));
        assert_eq!(user.session().await["user"]["email"], "bob@example.com");
    }

    async fn string_spelled_email_verified_claims_are_understood(app: TestApp, dns_port: u16) {
        // Cognito and some Entra tenants spell the claim as a string; the IdP here does too,
        // and takes client_secret_post only, as Entra's common setup does.
        let accounts = std::env::temp_dir().join(format!("{}.json", castellan_e2e::unique("accounts-")));
        std::fs::write(&accounts, json!([
            {"sub": "ana-1", "email": "ana@example.com", "password": "ana-password", "email_verified": "true", "name": "Ana"},
            {"sub": "sam-2", "email": "sam@example.com", "password": "sam-password", "email_verified": "false", "name": "Sam"},
        ]).to_string()).unwrap();
        let Some(idp) = Peer::oidc(&[("OIDC_ACCOUNTS_FILE", accounts.to_str().unwrap())]).await else { return };
        let t = tenant(&app).await;
        let mut registration = oidc_registration("cognito-like", &t.org_id, &idp, "castellan-test-post");
        registration["oidcConfig"]["tokenEndpointAuthentication"] = json!("client_secret_post");
        let Some(_dns) = register_verified(&app, &t, dns_port, &registration).await else { return };
        let sign_in = json!({"providerId": "cognito-like", "callbackURL": "/dashboard", "errorCallbackURL": "/sso-error"});

        let ana = app.browser();
        let url = start_sign_in(&ana, sign_in.clone()).await;
        let callback = IdpBrowser::default().oidc_login(&url, "ana@example.com", "ana-password").await;
        let (to, cookies) = deliver_oidc(&app, &ana, &callback).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies));
        assert_eq!(ana.session().await["user"]["emailVerified"], true);

        let sam = app.browser();
        let url = start_sign_in(&sam, sign_in).await;
        let callback = IdpBrowser::default().oidc_login(&url, "sam@example.com", "sam-password").await;
        let (to, cookies) = deliver_oidc(&app, &sam, &callback).await;
        assert!(to.starts_with("/sso-error?error=email_not_verified"), "\"false\" is unverified: {to}");
        assert!(!sets_session(&cookies));
        let _ = std::fs::remove_file(&accounts);
    }

    async fn every_oidc_fault_is_rejected_and_leaves_no_session(app: TestApp, dns_port: u16) {
        // Its own provider: the fault queue is shared by every client of an instance.
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let t = tenant(&app).await;
        let Some(_dns) = register_verified(&app, &t, dns_port, &oidc_registration("acme-faults", &t.org_id, &idp, "castellan-test")).await else { return };
        let idp_browser = IdpBrowser::default();
        let sign_in = json!({"providerId": "acme-faults", "callbackURL": "/dashboard", "errorCallbackURL": "/sso-error"});

        let token_faults = ["bad_signature", "untrusted_key", "unknown_kid", "alg_none", "expired", "issued_in_future", "wrong_audience", "wrong_issuer", "wrong_nonce"];
        for fault in token_faults {
            let user = app.browser();
            let url = start_sign_in(&user, sign_in.clone()).await;
            idp_browser.queue_id_token_fault(&idp.issuer(), fault).await;
            let callback = idp_browser.oidc_login(&url, "alice@example.com", "alice-password").await;
            let (to, cookies) = deliver_oidc(&app, &user, &callback).await;
            assert_eq!(to, "/sso-error?error=invalid_provider&error_description=token_not_verified", "{fault}");
            assert!(!sets_session(&cookies), "{fault} set a session");
            assert!(user.session().await.is_null(), "{fault} left a session");
        }

        // The IdP calls the address unverified in the ID token.
        let user = app.browser();
        let url = start_sign_in(&user, sign_in.clone()).await;
        idp_browser.queue_id_token_fault(&idp.issuer(), "email_unverified").await;
        let callback = idp_browser.oidc_login(&url, "alice@example.com", "alice-password").await;
        let (to, cookies) = deliver_oidc(&app, &user, &callback).await;
        assert!(to.starts_with("/sso-error?error=email_not_verified"), "{to}");
        assert!(!sets_session(&cookies));

        // Carol's address is unverified at the IdP; Eve's is outside the connection's domain.
        for (email, password, error) in [("carol@example.com", "carol-password", "email_not_verified"), ("eve@outsider.test", "eve-password", "email_domain_mismatch")] {
            let user = app.browser();
            let url = start_sign_in(&user, sign_in.clone()).await;
            let callback = IdpBrowser::default().oidc_login(&url, email, password).await;
            let (to, cookies) = deliver_oidc(&app, &user, &callback).await;
            assert!(to.starts_with(&format!("/sso-error?error={error}")), "{email}: {to}");
            assert!(!sets_session(&cookies));
            assert!(user.session().await.is_null());
        }

        // Wrong PKCE verifier: a code issued for one login delivered with another login's state.
        let user = app.browser();
        let first = start_sign_in(&user, sign_in.clone()).await;
        let code_for_first = idp_browser.oidc_login(&first, "alice@example.com", "alice-password").await;
        let second = start_sign_in(&user, sign_in.clone()).await;
        let swapped = format!(
            "{}/sso/callback/acme-faults?code={}&state={}",
            app.auth_url, query(&code_for_first)["code"], query(&second)["state"],
        );
        let (to, cookies) = deliver_oidc(&app, &user, &swapped).await;
        assert!(to.starts_with("/sso-error?error=invalid_grant"), "wrong PKCE: {to}");
        assert!(!sets_session(&cookies));

        // A reused code: accepted once, refused the second time (with a fresh state of ours).
        let user = app.browser();
        let url = start_sign_in(&user, sign_in.clone()).await;
        let callback = idp_browser.oidc_login(&url, "alice@example.com", "alice-password").await;
        let (to, _) = deliver_oidc(&app, &user, &callback).await;
        assert_eq!(to, "/dashboard");
        let replayer = app.browser();
        let fresh = start_sign_in(&replayer, sign_in.clone()).await;
        let reused = format!("{}/sso/callback/acme-faults?code={}&state={}", app.auth_url, query(&callback)["code"], query(&fresh)["state"]);
        let (to, cookies) = deliver_oidc(&app, &replayer, &reused).await;
        assert!(to.starts_with("/sso-error?error=invalid_grant"), "reused code: {to}");
        assert!(!sets_session(&cookies));
        // And the same callback twice: the state is single-use.
        let (to, _) = deliver_oidc(&app, &user, &callback).await;
        assert!(to.ends_with("/error?error=invalid_state"), "{to}");

        // The user cancels at the IdP: its error is passed on.
        let user = app.browser();
        let url = start_sign_in(&user, sign_in.clone()).await;
        let callback = IdpBrowser::default().oidc_abort(&url).await;
        let (to, cookies) = deliver_oidc(&app, &user, &callback).await;
        assert!(to.starts_with("/sso-error?error=access_denied"), "{to}");
        assert!(!sets_session(&cookies));

        // A callback from another browser (no state cookie) is refused: login CSRF.
        let victim = app.browser();
        let attacker = app.browser();
        let url = start_sign_in(&attacker, sign_in.clone()).await;
        let callback = idp_browser.oidc_login(&url, "alice@example.com", "alice-password").await;
        let (to, cookies) = deliver_oidc(&app, &victim, &callback).await;
        assert!(to.starts_with("/sso-error?error=state_mismatch"), "{to}");
        assert!(!sets_session(&cookies));
        // The stranger's callback did not burn the login: the browser that started it finishes.
        let (to, cookies) = deliver_oidc(&app, &attacker, &callback).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies));
        assert_eq!(attacker.session().await["user"]["email"], "alice@example.com");

        let rejected: Vec<Value> = audit_actions(&t.owner, &t.org_id).await.into_iter()
            .filter(|e| e["action"] == "sso.login.rejected").collect();
        assert!(rejected.len() >= token_faults.len() + 6, "{} rejections audited", rejected.len());
        let reasons: Vec<String> = rejected.iter().map(|e| e["details"].to_string()).collect();
        for needle in ["nonce", "future", "audiences", "issuer", "Signature", "Expired"] {
            assert!(reasons.iter().any(|r| r.contains(needle)), "no audited reason mentions {needle}: {reasons:?}");
        }
    }

    async fn saml_login_provisions_a_member_from_its_groups_attribute(app: TestApp, dns_port: u16) {
        let Some(idp) = Peer::saml().await else { return };
        let t = tenant(&app).await;
        let registration = saml_registration(&app, "acme-saml", &t.org_id, &idp).await;
        let Some(_dns) = register_verified(&app, &t, dns_port, &registration).await else { return };
        let mapping = t.owner.post("/sso/provisioning", &json!({"providerId": "acme-saml", "roleMapping": {"admins": "admin"}})).await;
        assert_eq!(mapping.status, 200, "{}", mapping.text);

        let metadata = app.browser().get("/sso/saml2/sp/metadata?providerId=acme-saml").await;
        assert_eq!(metadata.status, 200);
        assert!(metadata.text.contains(&format!(r#"entityID="{}/sp/acme-saml""#, app.origin)), "{}", metadata.text);
        assert!(metadata.text.contains(&format!("{}/sso/saml2/sp/acs/acme-saml", app.auth_url)));

        let alice = app.browser();
        let url = start_sign_in(&alice, json!({"email": "alice@example.com", "providerType": "saml", "callbackURL": "/dashboard"})).await;
        assert!(url.starts_with(&format!("{}/sso/redirect?SAMLRequest=", idp.base_url())), "{url}");
        let response = IdpBrowser::default().saml_login(&url, "alice", &[]).await;
        let (to, cookies) = deliver_saml(&app, &alice, &response).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies));
        let session = alice.session().await;
        assert_eq!(session["user"]["email"], "alice@example.com");
        assert_eq!(session["user"]["name"], "Alice Example");
        assert_eq!(member_role(&t.owner, &t.org_id, "alice@example.com").await.as_deref(), Some("admin"));

        // The response's signature mode does not matter as long as the IdP signed it.
        for sign in ["assertion", "response"] {
            let bob = app.browser();
            let url = start_sign_in(&bob, json!({"providerId": "acme-saml", "callbackURL": "/dashboard"})).await;
            let response = IdpBrowser::default().saml_login(&url, "bob", &[("sign", sign)]).await;
            let (to, cookies) = deliver_saml(&app, &bob, &response).await;
            assert_eq!(to, "/dashboard", "sign={sign}");
            assert!(sets_session(&cookies));
        }
        assert_eq!(member_role(&t.owner, &t.org_id, "bob@example.com").await.as_deref(), Some("member"));
        let actions: Vec<Value> = audit_actions(&t.owner, &t.org_id).await.iter().map(|e| e["action"].clone()).collect();
        assert!(actions.contains(&json!("sso.login")), "{actions:?}");

        // The same IdP configured as Okta's admin console has it: entity id, entry point and
        // certificates instead of metadata, mid-rollover (the retired certificate listed first),
        // persistent NameIDs with the email in an attribute, and no callbackUrl (optional in
        // Better Auth 1.7). Alice's existing user is linked through it (its domain is verified).
        let cert = IdpBrowser::default().fetch(&format!("{}/cert.pem", idp.base_url())).await;
        let mut by_cert = saml_registration(&app, "acme-saml-cert", &t.org_id, &idp).await;
        by_cert["samlConfig"]["idpMetadata"] = json!({ "entityID": idp.entity_id() });
        by_cert["samlConfig"]["cert"] = json!([retired_certificate(), cert]);
        by_cert["samlConfig"]["identifierFormat"] = json!("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
        by_cert["samlConfig"].as_object_mut().unwrap().remove("callbackUrl");
        drop(_dns);
        let Some(_dns) = register_verified(&app, &t, dns_port, &by_cert).await else { return };
        let shown = t.owner.get("/sso/get-provider?providerId=acme-saml-cert").await;
        assert!(shown.json["samlConfig"].get("callbackUrl").is_none(), "{}", shown.text);
        let fingerprint = shown.json["samlConfig"]["certificate"][0]["fingerprintSha256"].as_str().unwrap_or_default().to_owned();
        assert_eq!(fingerprint.len(), 95, "SHA-256 as colon-separated hex: {}", shown.text);
        let again = app.browser();
        let url = start_sign_in(&again, json!({"providerId": "acme-saml-cert", "callbackURL": "/dashboard"})).await;
        let response = IdpBrowser::default().saml_login(&url, "alice", &[]).await;
        let (to, cookies) = deliver_saml(&app, &again, &response).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies));
        assert_eq!(again.session().await["user"]["id"], session["user"]["id"], "linked to the same user");
    }

    async fn every_saml_fault_is_rejected_and_leaves_no_session(app: TestApp, dns_port: u16) {
        let Some(idp) = Peer::saml().await else { return };
        let t = tenant(&app).await;
        let registration = saml_registration(&app, "acme-saml-faults", &t.org_id, &idp).await;
        let Some(_dns) = register_verified(&app, &t, dns_port, &registration).await else { return };
        let sign_in = json!({"providerId": "acme-saml-faults", "callbackURL": "/dashboard", "errorCallbackURL": "/sso-error"});
        let faults = [
            ("bad_signature", "invalid_saml_response", "SAML_SIGNATURE_INVALID"),
            ("unsigned", "invalid_saml_response", "SAML_SIGNATURE_INVALID"),
            ("untrusted_key", "invalid_saml_response", "SAML_SIGNATURE_INVALID"),
            ("expired", "invalid_saml_response", "SAML_EXPIRED"),
            ("not_yet_valid", "invalid_saml_response", "SAML_NOT_YET_VALID"),
            ("wrong_audience", "invalid_saml_response", "SAML_AUDIENCE_MISMATCH"),
            ("wrong_recipient", "invalid_saml_response", "SAML_DESTINATION_MISMATCH"),
            ("wrong_in_response_to", "invalid_saml_response", "InResponseTo"),
            ("wrong_issuer", "invalid_saml_response", "SAML_ISSUER_MISMATCH"),
            ("status_failure", "saml_status_failure", "Responder"),
            ("wrapped_assertion", "invalid_saml_response", "SAML_MULTIPLE_ASSERTIONS"),
        ];
        for (fault, error, detail) in faults {
            let user = app.browser();
            let url = start_sign_in(&user, sign_in.clone()).await;
            let response = IdpBrowser::default().saml_login(&url, "alice", &[("fault", fault)]).await;
            let (to, cookies) = deliver_saml(&app, &user, &response).await;
            let params = query(&format!("http://x{to}"));
            assert!(to.starts_with("/sso-error?"), "{fault}: {to}");
            assert_eq!(params["error"], error, "{fault}: {to}");
            assert!(params["error_description"].contains(detail), "{fault}: {to}");
            assert!(!sets_session(&cookies), "{fault} set a session");
            assert!(user.session().await.is_null(), "{fault} left a session");
        }

        // A valid response is accepted once; posting it again is a replay.
        let user = app.browser();
        let url = start_sign_in(&user, sign_in.clone()).await;
        let response = IdpBrowser::default().saml_login(&url, "alice", &[]).await;
        let (to, cookies) = deliver_saml(&app, &user, &response).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies));
        let attacker = app.browser();
        let (to, cookies) = deliver_saml(&app, &attacker, &response).await;
        assert!(to.contains("error="), "replay accepted: {to}");
        assert!(!sets_session(&cookies));
        assert!(attacker.session().await.is_null());

        // IdP-initiated login is off by default...
        let sp_entity = format!("{}/sp/acme-saml-faults", app.origin);
        let acs = format!("{}/sso/saml2/sp/acs/acme-saml-faults", app.auth_url);
        let unsolicited = IdpBrowser::default().saml_unsolicited(&idp.base_url(), &sp_entity, &acs, "bob").await;
        let stranger = app.browser();
        let (to, cookies) = deliver_saml(&app, &stranger, &unsolicited).await;
        assert!(to.contains("error=unsolicited_response"), "{to}");
        assert!(!sets_session(&cookies));

        // ...and per connection it can be turned on; each assertion is still accepted once.
        let on = t.owner.post("/sso/provisioning", &json!({"providerId": "acme-saml-faults", "allowIdpInitiated": true})).await;
        assert_eq!(on.status, 200, "{}", on.text);
        let unsolicited = IdpBrowser::default().saml_unsolicited(&idp.base_url(), &sp_entity, &acs, "bob").await;
        let first = app.browser();
        let (to, cookies) = deliver_saml(&app, &first, &unsolicited).await;
        assert_eq!(to, format!("{}/dashboard", app.origin), "the connection's callbackUrl");
        assert!(sets_session(&cookies));
        let second = app.browser();
        let (to, cookies) = deliver_saml(&app, &second, &unsolicited).await;
        assert!(to.contains("error=replay_detected"), "{to}");
        assert!(!sets_session(&cookies));

        let log = audit_actions(&t.owner, &t.org_id).await;
        let rejected = log.iter().filter(|e| e["action"] == "sso.login.rejected").count();
        let shown: Vec<(Value, Value)> = log.iter().map(|e| (e["action"].clone(), e["details"].clone())).collect();
        assert!(rejected >= faults.len() + 3, "{rejected} rejections audited: {shown:#?}");
    }

    async fn domain_verification_gates_sign_in_until_the_txt_record_matches(app: TestApp, dns_port: u16) {
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let t = tenant(&app).await;
        let r = t.owner.post("/sso/register", &oidc_registration("acme-dns", &t.org_id, &idp, "castellan-test")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["domainVerified"], false);
        assert_eq!(r.json["redirectURI"], format!("{}/sso/callback/acme-dns", app.auth_url));
        let token = r.json["domainVerificationToken"].as_str().unwrap().to_owned();
        assert_eq!(token.len(), 24);

        let blocked = app.browser().post("/sign-in/sso", &json!({"email": "alice@example.com", "callbackURL": "/d"})).await;
        assert_eq!((blocked.status, blocked.json["message"].as_str()), (401, Some("Provider domain has not been verified")));

        let again = t.owner.post("/sso/request-domain-verification", &json!({"providerId": "acme-dns"})).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.json["domainVerificationToken"], token.as_str(), "the pending token is reused");

        // Another organization claims the same domain without proving it.
        let squatter = tenant(&app).await;
        let claimed = squatter.owner.post("/sso/register", &oidc_registration("squatter", &squatter.org_id, &idp, "castellan-test")).await;
        assert_eq!(claimed.status, 200, "{}", claimed.text);

        let label = "_better-auth-token-acme-dns.example.com";
        {
            // A record with another token is not proof.
            let Some(_dns) = Dns::serve(dns_port, &[(label, "_better-auth-token-acme-dns=not-the-token")]).await else { return };
            let v = t.owner.post("/sso/verify-domain", &json!({"providerId": "acme-dns"})).await;
            assert_eq!((v.status, v.code()), (502, "DOMAIN_VERIFICATION_FAILED"), "{}", v.text);
            assert_eq!(v.json["message"], "Unable to verify domain ownership for example.com. Try again later");
        }
        // A member without sso:update cannot verify.
        let (member, _, _) = orgs::add_member(&app, &t.owner, &t.org_id, "member", "sso-member").await;
        let denied = member.post("/sso/verify-domain", &json!({"providerId": "acme-dns"})).await;
        assert_eq!((denied.status, denied.json["message"].as_str()), (403, Some("You don't have access to this provider")));

        // The bare token is accepted as well as the `label=token` form.
        let Some(_dns) = Dns::serve(dns_port, &[(label, token.as_str())]).await else { return };
        let v = t.owner.post("/sso/verify-domain", &json!({"providerId": "acme-dns"})).await;
        assert_eq!(v.status, 204, "{}", v.text);
        assert_eq!(v.text, "");
        let twice = t.owner.post("/sso/verify-domain", &json!({"providerId": "acme-dns"})).await;
        assert_eq!((twice.status, twice.code()), (409, "DOMAIN_VERIFIED"));
        let open = app.browser().post("/sign-in/sso", &json!({"email": "alice@example.com", "callbackURL": "/d"})).await;
        assert_eq!(open.status, 200, "{}", open.text);
        let redirect_uri = query(open.json["url"].as_str().unwrap())["redirect_uri"].clone();
        assert!(redirect_uri.ends_with("/sso/callback/acme-dns"), "the verified connection wins: {redirect_uri}");
        let sub = app.browser().post("/sign-in/sso", &json!({"email": "carol@Mail.EXAMPLE.com", "callbackURL": "/d"})).await;
        assert_eq!(sub.status, 200, "a subdomain is covered: {}", sub.text);
        assert!(query(sub.json["url"].as_str().unwrap())["redirect_uri"].ends_with("/sso/callback/acme-dns"));
        let other = app.browser().post("/sign-in/sso", &json!({"email": "a@notexample.com", "callbackURL": "/d"})).await;
        assert_eq!(other.status, 404, "a lookalike domain is not: {}", other.text);

        // Changing the domain withdraws the proof.
        let moved = t.owner.post("/sso/update-provider", &json!({"providerId": "acme-dns", "domain": "example.org"})).await;
        assert_eq!(moved.status, 200, "{}", moved.text);
        assert_eq!(moved.json["domainVerified"], false);
        assert_eq!(moved.json["domain"], "example.org");
    }

    async fn connections_are_managed_under_the_organizations_casbin_rules(app: TestApp, dns_port: u16) {
        let _ = dns_port;
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let t = tenant(&app).await;
        let (admin, _, _) = orgs::add_member(&app, &t.owner, &t.org_id, "admin", "sso-admin").await;
        let (member, _, _) = orgs::add_member(&app, &t.owner, &t.org_id, "member", "sso-member").await;
        let (outsider, _) = app.new_user("sso-outsider").await;

        let by_member = member.post("/sso/register", &oidc_registration("by-member", &t.org_id, &idp, "castellan-test")).await;
        assert_eq!((by_member.status, by_member.json["message"].as_str()), (403, Some("You must be an organization owner or admin to register SSO providers")));
        let by_outsider = outsider.post("/sso/register", &oidc_registration("by-outsider", &t.org_id, &idp, "castellan-test")).await;
        assert_eq!((by_outsider.status, by_outsider.json["message"].as_str()), (400, Some("You are not a member of the organization")));
        let anonymous = app.browser().post("/sso/register", &oidc_registration("anon", &t.org_id, &idp, "castellan-test")).await;
        assert_eq!(anonymous.status, 401);

        let created = admin.post("/sso/register", &oidc_registration("by-admin", &t.org_id, &idp, "castellan-test")).await;
        assert_eq!(created.status, 200, "{}", created.text);
        assert_eq!(created.json["clientSecret"], json!(null), "the secret sits inside oidcConfig only");
        assert_eq!(created.json["oidcConfig"]["clientSecret"], "castellan-test-secret", "Better Auth echoes what was sent");

        for (who, status) in [(&t.owner, 200), (&admin, 200), (&member, 403), (&outsider, 403)] {
            let r = who.get("/sso/get-provider?providerId=by-admin").await;
            assert_eq!(r.status, status, "{}", r.text);
        }
        assert_eq!(t.owner.get("/sso/providers").await.json["providers"].as_array().unwrap().len(), 1);
        assert_eq!(member.get("/sso/providers").await.json["providers"], json!([]));
        assert_eq!(outsider.get("/sso/providers").await.json["providers"], json!([]));

        let update = member.post("/sso/update-provider", &json!({"providerId": "by-admin", "domain": "x.test"})).await;
        assert_eq!(update.status, 403);
        let delete = outsider.post("/sso/delete-provider", &json!({"providerId": "by-admin"})).await;
        assert_eq!(delete.status, 403);
        let nothing = t.owner.post("/sso/update-provider", &json!({"providerId": "by-admin"})).await;
        assert_eq!((nothing.status, nothing.json["message"].as_str()), (400, Some("No fields provided for update")));
        let missing = t.owner.get("/sso/get-provider?providerId=nope").await;
        assert_eq!((missing.status, missing.json["message"].as_str()), (404, Some("Provider not found")));

        let deleted = admin.post("/sso/delete-provider", &json!({"providerId": "by-admin"})).await;
        assert_eq!((deleted.status, &deleted.json), (200, &json!({"success": true})));
        assert_eq!(t.owner.get("/sso/providers").await.json["providers"], json!([]));
        let actions: Vec<Value> = audit_actions(&t.owner, &t.org_id).await.iter().map(|e| e["action"].clone()).collect();
        assert!(actions.contains(&json!("sso.connection.deleted")), "{actions:?}");
    }

    async fn signed_authn_requests_are_verified_by_the_idp(app: TestApp, dns_port: u16) {
        // The peer checks a redirect-binding signature itself (over the raw query) whenever one
        // is present and it knows the SP's certificate. Its `SAML_REQUIRE_SIGNED_REQUESTS` switch
        // also makes pysaml2 demand a signature embedded in the XML, which the redirect binding
        // does not carry, so it is not used here.
        let Some(idp) = Peer::saml().await else { return };
        let t = tenant(&app).await;
        let (key, cert) = sp_key_pair();
        let mut registration = saml_registration(&app, "signing-saml", &t.org_id, &idp).await;
        // Without a key there is nothing to sign with.
        registration["samlConfig"]["authnRequestsSigned"] = json!(true);
        let r = t.owner.post("/sso/register", &registration).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("privateKey"), "{}", r.text);
        registration["samlConfig"]["privateKey"] = json!(key);
        registration["samlConfig"]["spMetadata"] = json!({ "cert": cert });
        let Some(_dns) = register_verified(&app, &t, dns_port, &registration).await else { return };
        let shown = t.owner.get("/sso/get-provider?providerId=signing-saml").await;
        assert!(!shown.text.contains("PRIVATE KEY"), "the key never leaves: {}", shown.text);
        assert_eq!(shown.json["samlConfig"]["authnRequestsSigned"], true, "{}", shown.text);
        // The IdP learns the SP's signing certificate from Castellan's metadata.
        let metadata = app.browser().get("/sso/saml2/sp/metadata?providerId=signing-saml").await;
        assert!(metadata.text.contains(r#"AuthnRequestsSigned="true""#), "{}", metadata.text);
        let added = reqwest::Client::new()
            .post(format!("{}/admin/sp-metadata", idp.base_url()))
            .header("content-type", "application/samlmetadata+xml")
            .body(metadata.text.clone())
            .send()
            .await
            .unwrap();
        let status = added.status();
        assert_eq!(status, 200, "{}", added.text().await.unwrap());

        let alice = app.browser();
        let url = start_sign_in(&alice, json!({"providerId": "signing-saml", "callbackURL": "/dashboard"})).await;
        assert!(url.contains("&SigAlg=") && url.contains("&Signature="), "{url}");
        // A signature that does not verify is refused by the IdP.
        let mut tampered = url::Url::parse(&url).unwrap();
        let pairs: Vec<(String, String)> = tampered.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        tampered.query_pairs_mut().clear().extend_pairs(pairs.iter().map(|(k, v)| {
            if k == "RelayState" { (k.as_str(), "forged-relay-state") } else { (k.as_str(), v.as_str()) }
        }));
        let refused = reqwest::get(tampered.as_str()).await.unwrap();
        assert_eq!(refused.status(), 400);
        let why = refused.text().await.unwrap();
        assert!(why.contains("AuthnRequest signature does not verify"), "{why}");
        // The signed one goes through, and ends in a session.
        let response = IdpBrowser::default().saml_login(&url, "alice", &[]).await;
        let (to, cookies) = deliver_saml(&app, &alice, &response).await;
        assert_eq!(to, "/dashboard");
        assert!(sets_session(&cookies));
        assert_eq!(alice.session().await["user"]["email"], "alice@example.com");
    }

    async fn unsafe_or_incomplete_connections_are_refused(app: TestApp, dns_port: u16) {
        let _ = dns_port;
        let Some(saml_idp) = Peer::saml().await else { return };
        let t = tenant(&app).await;
        // SAML metadata without a signing certificate: samael would accept unsigned responses.
        let metadata = IdpBrowser::default().fetch(&format!("{}/metadata", saml_idp.base_url())).await;
        let stripped = regex_free_strip_key_descriptors(&metadata);
        let mut registration = saml_registration(&app, "no-cert", &t.org_id, &saml_idp).await;
        registration["samlConfig"]["idpMetadata"] = json!({ "metadata": stripped });
        let r = t.owner.post("/sso/register", &registration).await;
        assert_eq!((r.status, r.code()), (400, "CERT_SOURCE_MISSING"), "{}", r.text);
        // Nor an entity id with no certificate at all.
        registration["samlConfig"]["idpMetadata"] = json!({ "entityID": saml_idp.entity_id() });
        let r = t.owner.post("/sso/register", &registration).await;
        assert_eq!((r.status, r.code()), (400, "CERT_SOURCE_MISSING"), "{}", r.text);
        // A certificate that is not one.
        registration["samlConfig"]["cert"] = json!("not a certificate");
        let r = t.owner.post("/sso/register", &registration).await;
        assert_eq!(r.status, 400, "{}", r.text);

        // An IdP on a private address that the deployment does not trust.
        let strict = TestApp::spawn_on(Storage::fresh(Backend::Sqlite).await.unwrap(), &[]).await;
        let st = tenant(&strict).await;
        let private = st.owner.post("/sso/register", &json!({
            "providerId": "private", "issuer": "http://127.0.0.1:9/", "domain": "example.com",
            "organizationId": st.org_id, "oidcConfig": {"clientId": "a", "clientSecret": "b"},
        })).await;
        assert_eq!((private.status, private.code()), (400, "discovery_private_host"), "{}", private.text);

        let reserved = t.owner.post("/sso/register", &json!({
            "providerId": "credential", "issuer": "https://idp.example", "domain": "example.com",
            "oidcConfig": {"clientId": "a", "clientSecret": "b", "skipDiscovery": true},
        })).await;
        assert_eq!((reserved.status, reserved.json["message"].as_str()), (422, Some("This providerId is reserved and cannot be used for an SSO provider")));
        let bad_id = t.owner.post("/sso/register", &json!({
            "providerId": "../x", "issuer": "https://idp.example", "domain": "example.com",
            "oidcConfig": {"clientId": "a", "clientSecret": "b"},
        })).await;
        assert_eq!(bad_id.status, 400);
        let no_config = t.owner.post("/sso/register", &json!({"providerId": "empty", "issuer": "https://idp.example", "domain": "example.com"})).await;
        assert_eq!(no_config.status, 400);
        let required = app.browser().post("/sign-in/sso", &json!({"callbackURL": "/d"})).await;
        assert_eq!((required.status, required.json["message"].as_str()), (400, Some("email, organizationSlug, domain or providerId is required")));
        let unknown = app.browser().post("/sign-in/sso", &json!({"email": "a@nowhere.test", "callbackURL": "/d"})).await;
        assert_eq!((unknown.status, unknown.json["message"].as_str()), (404, Some("No provider found for the issuer")));
        let foreign_callback = app.browser().post("/sign-in/sso", &json!({"email": "a@example.com", "callbackURL": "https://evil.test/"})).await;
        assert_eq!(foreign_callback.status, 403);
        let no_metadata = app.browser().get("/sso/saml2/sp/metadata?providerId=nope").await;
        assert_eq!((no_metadata.status, no_metadata.json["message"].as_str()), (404, Some("No provider found for the given providerId")));
        let junk = app.browser().post_raw("/sso/saml2/sp/acs/nope", "application/x-www-form-urlencoded", "SAMLResponse=%%%").await;
        assert_eq!(junk.status, 404);
    }
}

/// A self-signed certificate the IdP no longer signs with (the old half of a rollover).
fn retired_certificate() -> String {
    self_signed_pair("/CN=retired-idp", 30).1
}

/// The IdP metadata with its `KeyDescriptor` elements cut out.
fn regex_free_strip_key_descriptors(xml: &str) -> String {
    let mut out = xml.to_owned();
    while let Some(start) = out.find("<md:KeyDescriptor") {
        let end = out[start..]
            .find("</md:KeyDescriptor>")
            .map(|e| start + e + "</md:KeyDescriptor>".len())
            .unwrap();
        out.replace_range(start..end, "");
    }
    assert!(
        !out.contains("X509Certificate"),
        "the metadata still carries a certificate"
    );
    out
}

/// Better Auth's linking rule: an existing account with the same email is linked only through a
/// connection whose domain is verified; otherwise `account not linked`.
mod linking {
    use super::*;

    async fn run(backend: Backend) {
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let Some((app, _)) = spawn(backend, &[("SSO_DOMAIN_VERIFICATION", "0")]).await else {
            return;
        };
        let t = tenant(&app).await;
        // Alice already has a password account with a verified address.
        let alice = app.browser();
        let up = alice
            .post(
                "/sign-up/email",
                &json!({"email": "alice@example.com", "password": castellan_e2e::PASSWORD, "name": "Alice"}),
            )
            .await;
        assert_eq!(up.status, 200);
        let db = app.db().await;
        sea_orm::ConnectionTrait::execute_unprepared(
            &db,
            r#"UPDATE "user" SET "emailVerified" = true WHERE email = 'alice@example.com'"#,
        )
        .await
        .unwrap();

        let r = t
            .owner
            .post(
                "/sso/register",
                &oidc_registration("acme-link", &t.org_id, &idp, "castellan-test"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.json.get("domainVerificationToken").is_none(),
            "verification is off"
        );

        let browser = app.browser();
        let url = start_sign_in(
            &browser,
            json!({"providerId": "acme-link", "callbackURL": "/dashboard"}),
        )
        .await;
        let callback = IdpBrowser::default()
            .oidc_login(&url, "alice@example.com", "alice-password")
            .await;
        let (to, cookies) = deliver_oidc(&app, &browser, &callback).await;
        assert_eq!(
            to,
            "/dashboard?error=account+not+linked&error_description=an+account+with+this+email+exists+and+the+connection%27s+domain+is+not+verified"
        );
        assert!(!sets_session(&cookies));

        // Once the domain is proven, the same login links the account.
        sea_orm::ConnectionTrait::execute_unprepared(
            &db,
            r#"UPDATE "ssoProvider" SET "domainVerified" = true WHERE "providerId" = 'acme-link'"#,
        )
        .await
        .unwrap();
        let browser = app.browser();
        let url = start_sign_in(
            &browser,
            json!({"providerId": "acme-link", "callbackURL": "/dashboard"}),
        )
        .await;
        let callback = IdpBrowser::default()
            .oidc_login(&url, "alice@example.com", "alice-password")
            .await;
        let (to, _) = deliver_oidc(&app, &browser, &callback).await;
        assert_eq!(to, "/dashboard");
        let me = alice.session().await["user"]["id"].clone();
        assert_eq!(
            browser.session().await["user"]["id"],
            me,
            "linked to the existing user"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_redis() {
        run(Backend::PostgresRedis).await;
    }
}

/// The official Better Auth client with `ssoClient()` (tests/sso-conformance) drives an OIDC and
/// a SAML login, domain verification included, against the real IdPs.
mod official_client {
    use castellan_e2e::node_suite;

    use super::*;

    /// One run at a time: both would `npm ci` into the same copy.
    static SUITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    async fn run(backend: Backend) {
        let _one_at_a_time = SUITE.lock().await;
        let Some(oidc) = Peer::oidc(&[]).await else { return };
        let Some(saml) = Peer::saml().await else { return };
        let Some((app, dns_port)) = spawn(backend, &[]).await else {
            return;
        };
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sso-conformance");
        let files = ["run.mjs", "run.sh", "package.json", "package-lock.json", ".npmrc"];
        let dir = node_suite::private_copy(&src, "sso-conformance", &files);
        let (last, success) = node_suite::run(
            dir,
            Vec::new(),
            vec![
                ("BASE_URL", app.origin.clone()),
                ("OIDC_ISSUER", oidc.issuer()),
                ("SAML_BASE_URL", saml.base_url()),
                ("DNS_PORT", dns_port.to_string()),
            ],
        )
        .await;
        assert_eq!(last, "4 passed, 0 failed", "sso conformance on {backend:?}");
        assert!(success);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_on_sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_on_postgres_and_redis() {
        run(Backend::PostgresRedis).await;
    }
}

/// Two replicas behind one public origin, on one Postgres + Redis: a login started on one
/// finishes on the other, and a SAML response accepted by one is a replay on the other.
mod replicas {
    use super::*;

    fn saml_form(response: &Value) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("SAMLResponse", response["SAMLResponse"].as_str().unwrap())
            .append_pair("RelayState", response["RelayState"].as_str().unwrap_or(""))
            .finish()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_login_started_on_one_replica_finishes_on_another() {
        let Some(oidc) = Peer::oidc(&[]).await else { return };
        let Some(saml) = Peer::saml().await else { return };
        let Some((a, dns_port)) = spawn(Backend::PostgresRedis, &[]).await else {
            return;
        };
        let dns = format!("127.0.0.1:{dns_port}");
        let b = TestApp::spawn_on(
            a.storage.share(),
            &[
                ("BASE_URL", a.origin.as_str()),
                ("SSO_TRUSTED_IDP_ORIGINS", "http://127.0.0.1:*"),
                ("SSO_DNS_SERVER", dns.as_str()),
            ],
        )
        .await;
        let on_b = |url: &str| url.replacen(&a.origin, &b.origin, 1);
        let t = tenant(&a).await;
        let oidc_reg = oidc_registration("replica-oidc", &t.org_id, &oidc, "castellan-test");
        let Some(dns1) = register_verified(&a, &t, dns_port, &oidc_reg).await else {
            return;
        };
        drop(dns1);
        let saml_reg = saml_registration(&a, "replica-saml", &t.org_id, &saml).await;
        let Some(_dns2) = register_verified(&a, &t, dns_port, &saml_reg).await else {
            return;
        };

        // OIDC: state written by A, callback served by B.
        let user = a.browser();
        let url = start_sign_in(
            &user,
            json!({"providerId": "replica-oidc", "callbackURL": "/dashboard"}),
        )
        .await;
        let callback = IdpBrowser::default()
            .oidc_login(&url, "alice@example.com", "alice-password")
            .await;
        assert!(callback.starts_with(&a.origin));
        let r = user.get_url(&on_b(&callback)).await;
        assert_eq!(
            (r.status, r.headers["location"].to_str().unwrap()),
            (302, "/dashboard"),
            "{}",
            r.text
        );
        assert!(sets_session(&r.set_cookies()));
        assert_eq!(
            user.session().await["user"]["email"],
            "alice@example.com",
            "the session B opened is valid on A"
        );

        // SAML: the AuthnRequest recorded by A is answered at B's ACS; replaying at A fails.
        let user = a.browser();
        let url = start_sign_in(
            &user,
            json!({"providerId": "replica-saml", "callbackURL": "/dashboard"}),
        )
        .await;
        let response = IdpBrowser::default().saml_login(&url, "bob", &[]).await;
        let acs = response["acs_url"].as_str().unwrap();
        let r = user.post_form_url(&on_b(acs), saml_form(&response)).await;
        assert_eq!(
            (r.status, r.headers["location"].to_str().unwrap()),
            (302, "/dashboard"),
            "{}",
            r.text
        );
        let replay = a.browser().post_form_url(acs, saml_form(&response)).await;
        let to = replay.headers["location"].to_str().unwrap();
        assert!(to.contains("error="), "replayed on the other replica: {to}");
        assert!(!sets_session(&replay.set_cookies()));
    }
}

sso_tests! {
    async fn an_organization_that_requires_sso_admits_only_its_connections_and_audited_owners(app: TestApp, dns_port: u16) {
        use castellan_e2e::PASSWORD;
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let t = tenant(&app).await;
        let Some(_dns) = register_verified(&app, &t, dns_port, &oidc_registration("acme-oidc", &t.org_id, &idp, "castellan-test")).await else { return };
        let owner_email = t.owner.session().await["user"]["email"].as_str().unwrap().to_owned();

        // Carol, in the connection's domain, joined with a password before SSO was required.
        let carol = app.browser();
        let carol_email = format!("{}@example.com", castellan_e2e::unique("carol"));
        assert_eq!(carol.post("/sign-up/email", &json!({"email": carol_email, "password": PASSWORD, "name": "Carol"})).await.status, 200);
        let inv = t.owner.post("/organization/invite-member", &json!({"email": carol_email, "role": "admin", "organizationId": t.org_id})).await;
        assert_eq!(carol.post("/organization/accept-invitation", &json!({"invitationId": inv.json["id"]})).await.status, 200);
        let members = format!("/organization/list-members?organizationId={}", t.org_id);
        assert_eq!(carol.get(&members).await.status, 200, "no requirement yet");

        // Alice comes in through the IdP.
        let alice = app.browser();
        let url = start_sign_in(&alice, json!({"email": "alice@example.com", "callbackURL": "/dashboard"})).await;
        let callback = IdpBrowser::default().oidc_login(&url, "alice@example.com", "alice-password").await;
        deliver_oidc(&app, &alice, &callback).await;

        // Requiring SSO needs a connection whose domain is proven.
        let bare = orgs::create(&t.owner, "bare").await;
        let r = t.owner.post("/sso/update-settings", &json!({"organizationId": bare["id"], "requireSso": true})).await;
        assert_eq!((r.status, r.code()), (400, "NO_VERIFIED_SSO_CONNECTION"), "{}", r.text);

        // Only an owner sets the requirement; an admin may read it.
        let settings = format!("/sso/settings?organizationId={}", t.org_id);
        assert_eq!(carol.get(&settings).await.json["requireSso"], false);
        let r = carol.post("/sso/update-settings", &json!({"organizationId": t.org_id, "requireSso": true})).await;
        assert_eq!((r.status, r.code()), (403, "ONLY_OWNERS_CAN_CHANGE_SSO_POLICY"), "{}", r.text);
        let r = t.owner.post("/sso/update-settings", &json!({"organizationId": t.org_id, "requireSso": "yes"})).await;
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
        // A second replica (on Postgres + Redis, how replicas run) has the organization's policy
        // cached before the change.
        let replica = match app.storage.backend {
            Backend::PostgresRedis => Some(TestApp::spawn_on(app.storage.share(), &[]).await),
            Backend::Sqlite => None,
        };
        if let Some(other) = &replica {
            assert_eq!(carol.get_url(&format!("{}{members}", other.auth_url)).await.status, 200);
        }
        let r = t.owner.post("/sso/update-settings", &json!({"organizationId": t.org_id, "requireSso": true})).await;
        assert_eq!((r.status, &r.json["requireSso"]), (200, &json!(true)), "{}", r.text);
        if let Some(other) = &replica {
            // The invalidation travels by Redis pub/sub, as every policy change does.
            let mut seen = (0, String::new());
            for _ in 0..40 {
                let r = carol.get_url(&format!("{}{members}", other.auth_url)).await;
                seen = (r.status, r.code().to_owned());
                if seen.0 == 403 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert_eq!(seen, (403, "SSO_REQUIRED".to_owned()), "the other replica never saw the requirement");
        }

        // Carol's password session can neither act in it nor make it active.
        let r = carol.get(&members).await;
        assert_eq!((r.status, r.code()), (403, "SSO_REQUIRED"), "{}", r.text);
        assert!(r.json["message"].as_str().unwrap().contains("/api/auth/sign-in/sso"), "the message names the way in");
        let r = carol.post("/organization/set-active", &json!({"organizationId": t.org_id})).await;
        assert_eq!((r.status, r.code()), (403, "SSO_REQUIRED"));
        assert_eq!(carol.get(&settings).await.code(), "SSO_REQUIRED");
        // Alice's session came through the organization's connection.
        let r = alice.get(&members).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(alice.post("/organization/set-active", &json!({"organizationId": t.org_id})).await.status, 200);

        // A password sign-in for the domain is sent to the IdP, right password or not: the
        // answer says nothing about the account.
        for password in [PASSWORD, "wrong-password-1"] {
            let b = app.browser();
            let r = b.post("/sign-in/email", &json!({"email": carol_email, "password": password, "callbackURL": "/dashboard"})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.json["redirect"], true);
            let url = r.json["url"].as_str().unwrap();
            assert!(url.starts_with(&format!("{}/sso/sign-in?providerId=acme-oidc&callbackURL=%2Fdashboard", app.auth_url)), "{url}");
            assert!(!sets_session(&r.set_cookies()), "no session by password");
            let to = b.get(relative(&app, url)).await;
            assert_eq!(to.status, 302, "{}", to.text);
            let idp_url = to.headers["location"].to_str().unwrap();
            assert!(idp_url.starts_with(&idp.issuer()), "{idp_url}");
            assert_eq!(query(idp_url)["login_hint"], carol_email.as_str());
        }

        // The owner's own password session is refused too; the break-glass sign-in is theirs,
        // and is audited.
        assert_eq!(t.owner.get(&members).await.code(), "SSO_REQUIRED");
        let r = carol.post("/sign-in/break-glass", &json!({"email": carol_email, "password": PASSWORD})).await;
        assert_eq!((r.status, r.code()), (403, "BREAK_GLASS_NOT_ALLOWED"), "{}", r.text);
        let r = app.browser().post("/sign-in/break-glass", &json!({"email": owner_email, "password": "wrong-password-1"})).await;
        assert_eq!((r.status, r.code()), (401, "INVALID_EMAIL_OR_PASSWORD"));
        let owner = app.browser();
        let r = owner.post("/sign-in/break-glass", &json!({"email": owner_email, "password": PASSWORD})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(owner.session().await["session"]["authMethod"], "break-glass");
        assert_eq!(owner.get(&members).await.status, 200);
        let entries = audit_actions(&owner, &t.org_id).await;
        let glass = entries.iter().find(|e| e["action"] == "sso.break_glass").expect("the break-glass sign-in is audited");
        assert_eq!(glass["actorId"], owner.session().await["user"]["id"]);
        assert!(entries.iter().any(|e| e["action"] == "sso.policy.updated" && e["details"]["requireSso"] == true), "{entries:?}");

        // Turned off again, Carol's password session works as before.
        let r = owner.post("/sso/update-settings", &json!({"organizationId": t.org_id, "requireSso": false})).await;
        assert_eq!(r.json["requireSso"], false, "{}", r.text);
        assert_eq!(carol.get(&members).await.status, 200);
        let r = app.browser().post("/sign-in/email", &json!({"email": carol_email, "password": PASSWORD})).await;
        assert_eq!(r.json["user"]["email"], carol_email.as_str(), "{}", r.text);
    }
}

sso_tests! {
    async fn a_password_session_reaches_nothing_in_an_organization_that_requires_sso(app: TestApp, dns_port: u16) {
        use crate::tenant_isolation::{attacks, attempt, tenant_b};
        let Some(idp) = Peer::oidc(&[]).await else { return };
        let (b_owner, b) = tenant_b(&app).await;
        let owner_email = b_owner.session().await["user"]["email"].as_str().unwrap().to_owned();
        let t = Tenant { owner: b_owner, org_id: b.id.clone() };
        let Some(_dns) = register_verified(&app, &t, dns_port, &oidc_registration("iso-oidc", &b.id, &idp, "castellan-test")).await else { return };
        // An admin of B, signed in with a password: without the requirement most of the
        // attacks below would be theirs to make.
        let (admin, _, admin_row) = orgs::add_member(&app, &t.owner, &b.id, "admin", "ssoadmin").await;
        let full = format!("/organization/get-full-organization?organizationId={}", b.id);
        assert_eq!(admin.get(&full).await.status, 200);
        let before = t.owner.get(&full).await.json;
        let r = t.owner.post("/sso/update-settings", &json!({"organizationId": b.id, "requireSso": true})).await;
        assert_eq!(r.status, 200, "{}", r.text);

        for (method, path, body) in attacks(&b, admin_row["userId"].as_str().unwrap()) {
            let r = attempt(&admin, method, &path, &body).await;
            assert!((400..500).contains(&r.status), "{method} {path} {body} was allowed without SSO: {} {}", r.status, r.text);
            for secret in [b.name.as_str(), b.slug.as_str(), b.member_email.as_str(), "B secret team", "pending@e2e.test"] {
                assert!(!r.text.contains(secret), "{method} {path} leaked {secret:?}: {}", r.text);
            }
        }
        for path in ["/sso/providers".to_owned(), "/sso/get-provider?providerId=iso-oidc".to_owned(), format!("/sso/settings?organizationId={}", b.id)] {
            let r = admin.get(&path).await;
            assert!(!r.text.contains("iso-oidc") || r.status >= 400, "{path}: {}", r.text);
        }

        // B is as it was, read through the owner's break-glass sign-in.
        let owner = app.browser();
        let r = owner.post("/sign-in/break-glass", &json!({"email": owner_email, "password": castellan_e2e::PASSWORD})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(owner.get(&full).await.json, before);
    }
}
