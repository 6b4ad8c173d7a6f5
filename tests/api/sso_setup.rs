//! The self-service SSO setup portal: who may make a link, what the link and its session allow,
//! and the whole wizard in Chromium against the real OIDC and SAML peers.

use serde_json::{Value, json};

use castellan_e2e::peers::{Peer, free_udp_port};
use castellan_e2e::{Backend, Browser, TestApp, orgs};

async fn owner_with_org(app: &TestApp) -> (Browser, String) {
    let (owner, _) = app.new_user("setup-owner").await;
    let org = orgs::create(&owner, "setup").await;
    (owner, org["id"].as_str().unwrap().to_owned())
}

async fn setup_link(owner: &Browser, org_id: &str) -> String {
    let r = owner
        .post("/sso/setup-link", &json!({"organizationId": org_id}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.json["url"].as_str().unwrap();
    url.split_once("/sso-setup#").unwrap().1.to_owned()
}

both_backends! {
    async fn only_those_who_may_manage_sso_make_setup_links(app: TestApp) {
        let (owner, org_id) = owner_with_org(&app).await;
        let anonymous = app.browser().post("/sso/setup-link", &json!({"organizationId": org_id})).await;
        assert_eq!((anonymous.status, anonymous.code()), (401, "UNAUTHORIZED"));
        let (member, _, _) = orgs::add_member(&app, &owner, &org_id, "member", "setup-member").await;
        let r = member.post("/sso/setup-link", &json!({"organizationId": org_id})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let (outsider, _) = app.new_user("setup-outsider").await;
        let r = outsider.post("/sso/setup-link", &json!({"organizationId": org_id})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = owner.post("/sso/setup-link", &json!({"organizationId": org_id, "expiresInHours": 24})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.json["url"].as_str().unwrap().starts_with(&format!("{}/sso-setup#", app.origin)), "{}", r.text);
        for hours in [0, 721] {
            let r = owner.post("/sso/setup-link", &json!({"organizationId": org_id, "expiresInHours": hours})).await;
            assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"), "{hours}: {}", r.text);
        }
        // The owner's active organization is the default.
        let r = owner.post("/organization/set-active", &json!({"organizationId": org_id})).await;
        assert_eq!(r.status, 200);
        assert_eq!(owner.post("/sso/setup-link", &json!({})).await.status, 200);
    }

    async fn a_setup_link_opens_once_and_its_session_lives_in_a_cookie(app: TestApp) {
        let (owner, org_id) = owner_with_org(&app).await;
        let token = setup_link(&owner, &org_id).await;
        let it_admin = app.browser();
        let opened = it_admin.post("/sso/setup/open", &json!({"token": token})).await;
        assert_eq!(opened.status, 200, "{}", opened.text);
        let provider_id = opened.json["providerId"].as_str().unwrap().to_owned();
        assert!(provider_id.starts_with("setup-"), "named after the organization: {provider_id}");
        assert_eq!(opened.json["oidcRedirectUri"], format!("{}/sso/callback/{provider_id}", app.auth_url));
        assert_eq!(opened.json["samlAcsUrl"], format!("{}/sso/saml2/sp/acs/{provider_id}", app.auth_url));
        assert_eq!((&opened.json["ready"], &opened.json["test"]), (&json!(false), &Value::Null));
        assert!(opened.set_cookies().iter().any(|c| c.contains("sso_setup=") && c.contains("HttpOnly")), "{:?}", opened.set_cookies());

        // Forwarded, leaked or replayed: the link works once.
        let replay = app.browser().post("/sso/setup/open", &json!({"token": token})).await;
        assert_eq!((replay.status, replay.code()), (401, "SETUP_LINK_INVALID"));
        let forged = app.browser().post("/sso/setup/open", &json!({"token": "x".repeat(40)})).await;
        assert_eq!((forged.status, forged.code()), (401, "SETUP_LINK_INVALID"));

        // The session is the cookie, not the link.
        assert_eq!(it_admin.get("/sso/setup").await.json["providerId"], provider_id.as_str());
        for (method, path) in [("GET", "/sso/setup"), ("GET", "/sso/setup/sp-metadata"), ("POST", "/sso/setup/verify-domain"), ("POST", "/sso/setup/test"), ("POST", "/sso/setup/enable")] {
            let stranger = app.browser();
            let r = if method == "GET" { stranger.get(path).await } else { stranger.post(path, &json!({})).await };
            assert_eq!((r.status, r.code()), (401, "SETUP_LINK_INVALID"), "{path}");
        }

        // Steps come in order, and bad input is refused before anything is fetched.
        for path in ["/sso/setup/verify-domain", "/sso/setup/test", "/sso/setup/enable"] {
            let r = it_admin.post(path, &json!({})).await;
            assert_eq!((r.status, r.code()), (400, "SETUP_STEP_MISSING"), "{path}: {}", r.text);
        }
        let bad = [
            (json!({"protocol": "oidc", "domain": "not a domain", "issuer": "https://idp.example"}), "INVALID_DOMAIN"),
            (json!({"protocol": "ldap", "domain": "example.com"}), "VALIDATION_ERROR"),
            (json!({"protocol": "oidc", "domain": "example.com"}), "VALIDATION_ERROR"),
            (json!({"protocol": "saml", "domain": "example.com"}), "VALIDATION_ERROR"),
            (json!({"protocol": "oidc", "domain": "example.com", "issuer": "https://idp.example", "clientSecret": "s"}), "VALIDATION_ERROR"),
            (json!({"protocol": "oidc", "domain": "example.com", "issuer": "not a url", "clientId": "c", "clientSecret": "s"}), "VALIDATION_ERROR"),
            (json!({"protocol": "oidc", "domain": "example.com", "issuer": "https://idp.example", "roleMapping": {"admins": "no-such-role"}}), "ROLE_NOT_FOUND"),
            (json!({"protocol": "oidc", "domain": "example.com", "issuer": "https://idp.example", "roleMapping": {"admins": "owner"}}), "ROLE_NOT_GRANTABLE"),
        ];
        for (body, code) in bad {
            let r = it_admin.post("/sso/setup/connection", &body).await;
            assert_eq!((r.status, r.code()), (400, code), "{body}: {}", r.text);
        }

        // From another site, the cookie alone does nothing.
        let cross_site = it_admin.from_origin("https://evil.example");
        let r = cross_site.post("/sso/setup/connection", &json!({"protocol": "oidc", "domain": "example.com", "issuer": "https://idp.example"})).await;
        assert_eq!(r.status, 403, "{}", r.text);

        // Every step is in the organization's audit log.
        let log = owner.get(&format!("/organization/audit-log?organizationId={org_id}")).await;
        let actions: Vec<&str> = log.json["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"sso.setup.link_created") && actions.contains(&"sso.setup.opened"), "{actions:?}");
    }

    async fn a_setup_link_dies_with_its_creators_right_to_manage_sso(app: TestApp) {
        let (owner, org_id) = owner_with_org(&app).await;
        let (admin, _, member) = orgs::add_member(&app, &owner, &org_id, "admin", "setup-admin").await;
        let token = setup_link(&admin, &org_id).await;
        let it_admin = app.browser();
        assert_eq!(it_admin.post("/sso/setup/open", &json!({"token": token})).await.status, 200);
        assert_eq!(it_admin.get("/sso/setup").await.status, 200);
        let demoted = owner
            .post("/organization/update-member-role", &json!({"memberId": member["id"], "role": "member", "organizationId": org_id}))
            .await;
        assert_eq!(demoted.status, 200, "{}", demoted.text);
        let r = it_admin.get("/sso/setup").await;
        assert_eq!((r.status, r.code()), (403, "SETUP_LINK_REVOKED"), "{}", r.text);
        let r = it_admin.post("/sso/setup/enable", &json!({})).await;
        assert_eq!((r.status, r.code()), (403, "SETUP_LINK_REVOKED"), "{}", r.text);
    }
}

async fn walk_the_wizard_in_chromium(backend: Backend, protocol: &str) {
    if !castellan_e2e::chromium_available() {
        return;
    }
    let peer = if protocol == "oidc" {
        Peer::oidc(&[]).await
    } else {
        Peer::saml().await
    };
    let Some(peer) = peer else { return };
    let idp = if protocol == "oidc" {
        peer.issuer()
    } else {
        peer.base_url()
    };
    let dns_port = free_udp_port();
    let dns_server = format!("127.0.0.1:{dns_port}");
    let Some(app) = TestApp::spawn_with(
        backend,
        &[
            ("SSO_TRUSTED_IDP_ORIGINS", "http://127.0.0.1:*"),
            ("SSO_DNS_SERVER", dns_server.as_str()),
            ("RATE_LIMIT", "false"),
        ],
    )
    .await
    else {
        return;
    };
    let (seen, shots) = castellan_e2e::node_suite::browser_scenario(
        "sso-setup.mjs",
        backend,
        vec![
            ("ORIGIN", app.origin.clone()),
            ("PROTOCOL", protocol.to_owned()),
            ("IDP", idp),
            ("DNS_PORT", dns_port.to_string()),
        ],
    )
    .await;
    assert_eq!(seen.get("failure"), None, "{seen:#}");
    assert_eq!(seen["linkCarriesTokenInFragment"], true);
    assert_eq!(
        seen["addressBarAfterOpening"], "",
        "the token leaves the address bar once used"
    );
    assert!(
        seen["intro"]
            .as_str()
            .unwrap()
            .starts_with("Connect Example Corp to your identity provider."),
        "{seen:#}"
    );
    if protocol == "oidc" {
        assert!(
            seen["values"]["redirectUri"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/sso/callback/example-corp-", app.auth_url)),
            "{seen:#}"
        );
    } else {
        assert!(
            seen["values"]["acsUrl"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/sso/saml2/sp/acs/example-corp-", app.auth_url)),
            "{seen:#}"
        );
        // The download link gives the SP metadata before the connection exists.
        let metadata = seen["values"]["metadata"].as_str().unwrap();
        let entity_id = seen["values"]["entityId"].as_str().unwrap();
        assert!(
            metadata.contains(&format!("entityID=\"{}\"", entity_id.replace('&', "&amp;"))),
            "{metadata}"
        );
        assert!(
            metadata.contains(seen["values"]["acsUrl"].as_str().unwrap()),
            "{metadata}"
        );
    }
    assert!(
        seen["txtName"]
            .as_str()
            .unwrap()
            .starts_with("_better-auth-token-example-corp-"),
        "{seen:#}"
    );
    assert!(
        seen["txtName"].as_str().unwrap().ends_with(".example.com"),
        "{seen:#}"
    );
    assert_eq!(
        seen["checkBeforePublishing"], "The TXT record was not found for example",
        "{seen:#}"
    );
    assert_eq!(seen["domainState"], "Verified: you control example.com.");
    assert_eq!(
        seen["enableBeforeTest"], true,
        "no turning on before a test passed"
    );
    assert_eq!(seen["signInBeforeEnable"], 404, "a draft signs no one in");
    let expected_name = "Alice Example";
    assert_eq!(
        seen["testOutcome"],
        format!(
            "Test passed: {expected_name} <alice@example.com> signed in, groups admins, engineering; they would get the role admin."
        ),
        "{seen:#}"
    );
    assert_eq!(
        seen["itAdminSignedIn"],
        Value::Null,
        "a test login opens no session"
    );
    assert!(
        seen["enabled"]
            .as_str()
            .unwrap()
            .starts_with("Single sign-on is on (connection example-corp-"),
        "{seen:#}"
    );
    assert_eq!(
        seen["linkAgain"],
        "This setup link is invalid, already used or expired. Ask for a new one."
    );
    assert_eq!(seen["employeeEmail"], "alice@example.com");
    assert_eq!(seen["employeeOrg"], "Example Corp");
    assert_eq!(seen["employeeRole"], "admin", "the admins group maps to admin");
    let connections = seen["consoleConnections"].as_array().unwrap();
    assert_eq!(connections.len(), 1, "{seen:#}");
    assert!(
        connections[0]
            .as_str()
            .unwrap()
            .contains(&format!("example.com{protocol}yes")),
        "{seen:#}"
    );
    let actions: Vec<&str> = seen["auditActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for step in [
        "sso.setup.link_created",
        "sso.setup.opened",
        "sso.setup.connection_saved",
        "sso.setup.domain_verification_failed",
        "sso.setup.domain_verified",
        "sso.setup.test_started",
        "sso.setup.tested",
        "sso.setup.enabled",
        "sso.login",
    ] {
        assert!(actions.contains(&step), "{step} audited: {actions:?}");
    }
    for (page, violations) in seen["accessibility"].as_object().unwrap() {
        assert_eq!(
            violations,
            &json!([]),
            "axe: serious or critical violations on the wizard ({page})"
        );
    }
    for name in ["values", "tested"] {
        for width in ["desktop", "phone"] {
            assert!(
                shots
                    .join(format!("sso-setup-{protocol}-{name}-{width}.png"))
                    .exists(),
                "{name} {width}"
            );
        }
    }
}

per_backend! {
    async fn an_it_admin_sets_up_oidc_through_the_portal_in_chromium(backend) {
        walk_the_wizard_in_chromium(backend, "oidc").await;
    }

    async fn an_it_admin_sets_up_saml_through_the_portal_in_chromium(backend) {
        walk_the_wizard_in_chromium(backend, "saml").await;
    }
}
