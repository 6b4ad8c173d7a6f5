//! The hosted pages: what the server decides (who goes where, which callback is honoured, the
//! headers every page carries, hostile input), then the whole journey in Chromium.

use castellan_e2e::PASSWORD;
use serde_json::{Value, json};

async fn get(app: &castellan_e2e::TestApp, path_and_query: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path_and_query}", app.origin))
        .send()
        .await
        .unwrap()
}

/// A label points at an id: two fields with one id leave the second without a label.
fn assert_ids_are_unique(page: &str, html: &str) {
    let ids: Vec<&str> = html
        .split(" id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        ids.len(),
        unique.len(),
        "{page}: duplicate ids break labels: {ids:?}"
    );
}

fn location(r: &reqwest::Response) -> &str {
    r.headers().get("location").map_or("", |v| v.to_str().unwrap())
}

both_backends! {
    async fn a_visitor_is_sent_to_sign_in_and_brought_back(app: TestApp) {
        let r = get(&app, "/").await;
        assert_eq!((r.status().as_u16(), location(&r)), (303, "/sign-in"));
        for (page, back) in [("/account", "%2Faccount"), ("/organization", "%2Forganization"), ("/admin", "%2Fadmin")] {
            let r = get(&app, page).await;
            assert_eq!((r.status().as_u16(), location(&r)), (303, format!("/sign-in?callbackURL={back}").as_str()), "{page}");
        }
        let r = get(&app, "/accept-invitation/inv_123").await;
        assert_eq!(location(&r), "/sign-in?callbackURL=%2Faccept-invitation%2Finv_123");
    }

    async fn the_sign_in_page_honours_only_trusted_callbacks(app: TestApp) {
        let next_of = |html: &str| {
            html.split("id=\"sign-in-form\" data-next=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
        };
        let r = get(&app, "/sign-in?callbackURL=%2Forganization%3Ftab%3Dmembers").await;
        assert_eq!(next_of(&r.text().await.unwrap()), "/organization?tab=members");
        let trusted = format!("/sign-in?callbackURL={}%2Faccount", app.origin.replace(':', "%3A").replace('/', "%2F"));
        assert_eq!(next_of(&get(&app, &trusted).await.text().await.unwrap()), format!("{}/account", app.origin));
        for hostile in [
            "https%3A%2F%2Fevil.example%2F",
            "%2F%2Fevil.example",
            "%2F%5Cevil.example",
            "javascript%3Aalert(1)",
            "%2Faccount%0d%0aSet-Cookie%3Ax",
        ] {
            let r = get(&app, &format!("/sign-in?callbackURL={hostile}")).await;
            let status = r.status().as_u16();
            if status == 400 {
                continue; // refused outright by the control-character guard
            }
            assert_eq!(next_of(&r.text().await.unwrap()), "/account", "{hostile}");
        }
        // A duplicated parameter is refused before any page sees it, as on the API.
        let r = get(&app, "/sign-in?callbackURL=%2Forganization&callbackURL=https%3A%2F%2Fevil.example").await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "VALIDATION_ERROR");
    }

    async fn every_page_is_html_that_cannot_be_framed_or_cached(app: TestApp) {
        for page in castellan_console::PAGES {
            let r = get(&app, page).await;
            let status = r.status().as_u16();
            if status == 303 {
                assert!(location(&r).starts_with("/sign-in?callbackURL="), "{page}");
                continue;
            }
            assert_eq!(status, 200, "{page}");
            let h = r.headers();
            assert_eq!(h["content-type"], "text/html; charset=utf-8", "{page}");
            assert_eq!(h["cache-control"], "no-store", "{page}");
            assert_eq!(h["referrer-policy"], "no-referrer", "{page}: reset tokens ride in the URL");
            assert_eq!(h["x-frame-options"], "DENY", "{page}");
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
            let html = r.text().await.unwrap();
            assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{page}");
            assert!(!html.contains("<script>"), "{page}: no inline script, so the CSP can forbid it");
            assert_ids_are_unique(page, &html);
        }
        let css = get(&app, "/assets/app.css").await;
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        assert_eq!(get(&app, "/assets/nope.js").await.status(), 404);
    }

    async fn hostile_input_to_the_pages_is_refused_or_ignored(app: TestApp) {
        let long = "a".repeat(5000);
        for page in castellan_console::PAGES.iter().chain(&["/", "/accept-invitation/x"]) {
            for query in ["callbackURL=%00", "callbackURL=%0d%0a", "callbackURL[]=1", "token=%ff%fe", &format!("callbackURL={long}")] {
                let r = get(&app, &format!("{page}?{query}")).await;
                let status = r.status().as_u16();
                assert!(matches!(status, 200 | 303 | 400), "{page}?{query}: {status}");
                if status == 400 {
                    let body: Value = r.json().await.unwrap();
                    assert!(body["code"].is_string(), "{page}?{query}: {body}");
                }
            }
        }
        let client = reqwest::Client::new();
        for body in [&b""[..], b"https://example.com", &[0xff, 0xfe][..], "otpauth://".repeat(200).as_bytes()] {
            let r = client.post(format!("{}/qr", app.origin)).body(body.to_vec()).send().await.unwrap();
            assert_eq!(r.status(), 400);
            let json: Value = r.json().await.unwrap();
            assert_eq!(json["code"], "VALIDATION_ERROR", "{json}");
        }
        let r = client
            .post(format!("{}/qr", app.origin))
            .body("otpauth://totp/Castellan:a%40b.test?secret=JBSWY3DPEHPK3PXP&issuer=Castellan")
            .send()
            .await
            .unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (200, "image/svg+xml"));
        assert_eq!(r.headers()["cache-control"], "no-store", "the QR code is the TOTP secret");
        assert!(r.text().await.unwrap().contains("<svg"));
    }

    async fn a_signed_in_visitor_gets_their_page_with_their_name(app: TestApp) {
        let (b, email) = app.new_user("pages").await;
        let r = b.get_url(&format!("{}/account", app.origin)).await;
        assert_eq!(r.status, 200);
        assert!(r.text.contains(&format!("<strong id=\"current-email\">{email}</strong>")), "{}", r.text);
        assert!(!r.text.contains("href=\"/admin\""), "no admin link for a user");
        for page in castellan_console::PAGES {
            let r = b.get_url(&format!("{}{page}", app.origin)).await;
            if *page == "/sign-in" {
                assert_eq!(r.status, 303, "signed in already: on to the callback");
                continue;
            }
            assert_eq!(r.status, 200, "{page}");
            assert_ids_are_unique(page, &r.text);
        }
        let r = b.get_url(&format!("{}/", app.origin)).await;
        assert_eq!((r.status, r.headers.get("location").map(|v| v.to_str().unwrap())), (303, Some("/account")));
    }
}

per_backend! {
    async fn people_use_the_hosted_pages_in_chromium(backend) {
        if !castellan_e2e::chromium_available() {
            return;
        }
        let admin = "root@pages.e2e.test";
        let Some(app) = castellan_e2e::TestApp::spawn_with(
            backend,
            &[("ADMIN_EMAILS", admin), ("REQUIRE_EMAIL_VERIFICATION", "true"), ("RATE_LIMIT", "false")],
        )
        .await
        else {
            return;
        };
        // The platform admin exists before the scenario starts (created over the API, verified).
        let b = app.browser();
        let r = b.post("/sign-up/email", &json!({"email": admin, "password": PASSWORD, "name": "Root"})).await;
        assert_eq!(r.json["user"]["role"], "admin", "{}", r.text);
        let link = app.wait_mail("verification", admin).await["url"].as_str().unwrap().to_owned();
        b.get_url(&link).await;

        let (seen, shots) = castellan_e2e::node_suite::browser_scenario(
            "console.mjs",
            backend,
            vec![
                ("ORIGIN", app.origin.clone()),
                ("MAIL_LOG", app.mail_log.display().to_string()),
                ("ADMIN_EMAIL", admin.to_owned()),
            ],
        )
        .await;
        assert_eq!(seen.get("failure"), None, "{seen:#}");
        assert_eq!(seen["rootLandsOn"], "/sign-in");
        assert_eq!(seen["afterSignUp"], "/verify-email", "verification is required");
        assert_eq!(seen["afterVerificationLink"], "/sign-in", "the link verifies, then asks to sign in");
        assert_eq!(seen["unverifiedSignInLandsOn"], "/verify-email", "{seen:#}");
        assert_eq!(seen["unverifiedEmailPrefilled"], true, "the resend form knows the address");
        assert_eq!(seen["accountVerified"], true, "{seen:#}");
        assert_eq!((&seen["qrScheme"], &seen["qrMatchesManualKey"]), (&json!("otpauth:"), &json!(true)), "the QR code scans");
        assert_eq!((&seen["twoFactorState"], &seen["backupCodes"]), (&json!("true"), &json!(10)));
        assert_eq!(seen["signedInWithTotp"], true);
        assert_eq!(seen["orgTitle"], "Acme Widgets");
        assert!(seen["inviteStatus"].as_str().unwrap().starts_with("Invitation sent to bob-"), "{seen:#}");
        assert_eq!(seen["pendingInvitations"].as_array().unwrap().len(), 1, "{seen:#}");
        assert!(seen["pendingInvitations"][0].as_str().unwrap().contains("admin"), "{seen:#}");
        assert_eq!((&seen["teamStatus"], &seen["roleStatus"]), (&json!("Team created."), &json!("Role created.")));
        assert_eq!(seen["webhookStatus"], "Endpoint added.", "{seen:#}");
        assert_eq!(seen["webhookSecretShown"], true, "{seen:#}");
        assert_eq!(seen["webhooks"], json!(["https://hooks.acme.example/castellan"]));
        assert!(seen["auditChain"].as_str().unwrap().starts_with("Chain verified"), "{seen:#}");
        assert!(seen["auditRows"].as_u64().unwrap() >= 3, "organization, invitation, team, role: {seen:#}");
        assert_eq!(seen["invitationLinkLandsOn"], "/sign-in");
        assert_eq!(seen["invitationText"].as_str().unwrap().split(" invited you").nth(1), Some(" to join Acme Widgets as admin."), "{seen:#}");
        assert_eq!(seen["bobSeesOrg"], "Acme Widgets");
        assert_eq!(seen["membersSeenByBob"].as_array().unwrap().len(), 2, "{seen:#}");
        assert_eq!(seen["bobStatusAfterBan"], "banned: Support ticket 4521");
        assert!(seen["platformAuditChain"].as_str().unwrap().starts_with("Chain verified"), "{seen:#}");
        let ban_entry = seen["platformAuditFirst"].as_str().unwrap();
        assert!(ban_entry.contains("admin.ban") && ban_entry.contains("reason: Support ticket 4521"), "{ban_entry}");
        assert_eq!(seen["bannedColleagueLandsOn"], "/sign-in", "a ban ends the sessions");
        assert!(seen["impersonationBanner"].as_str().unwrap().starts_with("You are acting as alice-"), "{seen:#}");
        assert!(seen["impersonatedEmail"].as_str().unwrap().starts_with("alice-"));
        assert_eq!(seen["backToAdmin"], true);
        assert_eq!((&seen["firstTab"], &seen["thirdTab"]), (&json!("Skip to content"), &json!("f-email")), "keyboard order");
        for (page, violations) in seen["accessibility"].as_object().unwrap() {
            assert_eq!(violations, &json!([]), "axe: serious or critical violations on {page}");
        }
        let pages = ["sign-in", "sign-up", "verify-email", "account", "two-factor", "organization", "accept-invitation", "admin"];
        assert_eq!(seen["screenshots"], json!(pages));
        for page in pages {
            for width in ["desktop", "phone"] {
                assert!(shots.join(format!("console-{page}-{width}.png")).exists(), "{page} {width}");
            }
        }
    }
}

per_backend! {
    async fn passkeys_are_added_and_used_on_the_hosted_pages_in_chromium(backend) {
        if !castellan_e2e::chromium_available() {
            return;
        }
        let Some(app) = castellan_e2e::TestApp::spawn_with(
            backend,
            &[("PASSKEY_RP_ID", "localhost"), ("TRUSTED_ORIGINS", "http://localhost:*")],
        )
        .await
        else {
            return;
        };
        let (seen, _) = castellan_e2e::node_suite::browser_scenario(
            "console-passkey.mjs",
            backend,
            vec![("ORIGIN", format!("http://localhost:{}", app.port))],
        )
        .await;
        assert_eq!(seen.get("failure"), None, "{seen:#}");
        assert_eq!(seen["added"], "Passkey added.");
        assert_eq!(seen["listed"], json!(["Laptop"]));
        assert_eq!(seen["signedInAs"], seen["expected"], "{seen:#}");
    }
}
