//! CORS for apps on other origins: trusted origins only, with credentials, never `*`; and the
//! same from a real browser (Chromium driven by playwright-core).

use castellan_e2e::{Backend, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const APP: &str = "http://app.example.test:5173";

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[(
            "TRUSTED_ORIGINS",
            &format!("{APP},https://*.preview.example.test"),
        )],
    )
    .await
}

async fn preflight(app: &TestApp, origin: &str, headers: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, format!("{}/sign-up/email", app.auth_url))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

per_backend! {
    async fn preflights_answer_trusted_origins_only(backend) {
        let Some(app) = spawn(backend).await else { return };
        for origin in [APP, "https://pr-7.preview.example.test"] {
            let r = preflight(&app, origin, "content-type").await;
            assert_eq!(r.status(), 204);
            assert_eq!(header(&r, "access-control-allow-origin"), Some(origin));
            assert_eq!(header(&r, "access-control-allow-credentials"), Some("true"));
            assert!(header(&r, "access-control-allow-methods").unwrap().contains("POST"));
            assert!(header(&r, "access-control-allow-headers").unwrap().contains("content-type"));
            assert_eq!(header(&r, "vary"), Some("Origin"));
        }
        // Untrusted, lookalike, null, or with a header the app may not send: no permission.
        for (origin, headers) in [
            ("https://evil.test", "content-type"),
            ("http://app.example.test:5173.evil.test", "content-type"),
            ("null", "content-type"),
            (APP, "content-type, x-not-allowed"),
        ] {
            let r = preflight(&app, origin, headers).await;
            assert_eq!(r.status(), 204, "{origin}");
            assert_eq!(header(&r, "access-control-allow-origin"), None, "{origin} {headers}");
            assert_eq!(header(&r, "access-control-allow-credentials"), None);
        }
    }

    async fn credentialed_requests_from_trusted_origins_can_read_the_answer(backend) {
        let Some(app) = spawn(backend).await else { return };
        let b = app.browser();
        let email = format!("{}@e2e.test", castellan_e2e::unique("cors"));
        let req = reqwest::Client::new()
            .post(format!("{}/sign-up/email", app.auth_url))
            .header("origin", APP)
            .json(&json!({"email": email, "password": castellan_e2e::PASSWORD, "name": "Cors"}));
        let r = b.send(req).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.headers["access-control-allow-origin"], APP);
        assert_eq!(r.headers["access-control-allow-credentials"], "true");
        let exposed = r.headers["access-control-expose-headers"].to_str().unwrap();
        assert!(exposed.contains("set-auth-token") && exposed.contains("set-auth-jwt"), "{exposed}");
        // Errors carry CORS too, so the app can read Better Auth's error body.
        let req = reqwest::Client::new()
            .post(format!("{}/sign-in/email", app.auth_url))
            .header("origin", APP)
            .json(&json!({"email": email, "password": "wrong-password-1"}));
        let r = b.send(req).await;
        assert_eq!((r.status, r.headers["access-control-allow-origin"].to_str().unwrap()), (401, APP));
        // Another origin gets no CORS headers at all, and never a wildcard.
        let req = reqwest::Client::new().get(format!("{}/ok", app.auth_url)).header("origin", "https://evil.test");
        let r = b.send(req).await;
        assert_eq!(r.status, 200);
        assert!(r.headers.get("access-control-allow-origin").is_none());
        assert_eq!(r.headers["vary"], "Origin");
    }

    async fn a_browser_app_on_another_origin_signs_in_with_credentials(backend) {
        if !castellan_e2e::chromium_available() {
            return;
        }
        let page_port = castellan_e2e::free_tcp_port();
        let untrusted_port = castellan_e2e::free_tcp_port();
        let trusted_page = format!("http://127.0.0.1:{page_port}");
        let Some(app) = TestApp::spawn_with(backend, &[("TRUSTED_ORIGINS", &trusted_page)]).await else { return };
        let dir = castellan_e2e::node_suite::private_copy(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("browser"),
            // One copy per backend: the two tests run at once and each installs into its own.
            &format!("browser-{backend:?}").to_lowercase(),
            &["package.json", "package-lock.json", "run.sh", "cors.mjs"],
        );
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let (last, ok) = castellan_e2e::node_suite::run(
            dir,
            vec!["cors.mjs".into()],
            vec![
                ("API", app.auth_url.clone()),
                ("PAGE_PORT", page_port.to_string()),
                ("UNTRUSTED_PAGE_PORT", untrusted_port.to_string()),
                ("SCREENSHOT_DIR", shots.display().to_string()),
                ("SHOT_PREFIX", format!("{backend:?}-").to_lowercase()),
            ],
        )
        .await;
        assert!(ok, "the browser scenario failed: {last}");
        let seen: Value = serde_json::from_str(&last).unwrap();
        let trusted = &seen["trusted"];
        assert_eq!(trusted["signUpStatus"], 200, "{seen}");
        assert_eq!(trusted["sessionEmail"], trusted["expectedEmail"], "the session cookie was sent back: {seen}");
        assert_eq!(trusted["bearerReadable"], true, "set-auth-token is exposed: {seen}");
        assert_eq!(trusted["jwtReadable"], true, "set-auth-jwt is exposed: {seen}");
        assert_eq!(trusted["disallowedHeaderBlocked"], true, "{seen}");
        // The untrusted page cannot read anything: every fetch fails in the browser.
        let untrusted = &seen["untrusted"];
        assert!(untrusted["error"].as_str().is_some_and(|e| e.contains("Failed to fetch")), "{seen}");
        assert!(shots.join(format!("{backend:?}-cors-trusted.png").to_lowercase()).exists());
    }
}
