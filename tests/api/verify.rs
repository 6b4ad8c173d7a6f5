//! `castellan-verify` against a started Castellan, as a downstream service uses it: JWTs checked
//! through the key set (and refetched after a rotation, within the floor), sessions through
//! `get-session`, the active member and permission decisions, the actix extractors, and the
//! errors a service must tell apart (401, 403, 503).

use std::time::Duration;

use castellan_e2e::{Backend, Browser, TestApp, orgs};
use castellan_verify::{Config, Credential, Verifier, VerifyError};
use serde_json::json;

fn verifier(app: &TestApp, tune: impl FnOnce(&mut Config)) -> Verifier {
    let mut config = Config::for_auth_url(&app.auth_url).unwrap();
    tune(&mut config);
    Verifier::with_config(config).unwrap()
}

fn cookie_header(b: &Browser) -> String {
    format!(
        "better-auth.session_token={}",
        b.cookie("better-auth.session_token").unwrap()
    )
}

async fn jwt(b: &Browser) -> String {
    b.get("/token").await.json["token"].as_str().unwrap().to_owned()
}

per_backend! {
    async fn sessions_members_and_permissions_are_checked_with_castellan(backend) {
        let Some(app) = TestApp::spawn(backend).await else { return };
        let (owner, owner_email) = app.new_user("vowner").await;
        let org = orgs::create(&owner, "verify").await;
        let org_id = org["id"].as_str().unwrap();
        owner.post("/organization/set-active", &json!({"organizationId": org_id})).await;
        let (member, _, _) = orgs::add_member(&app, &owner, org_id, "member", "vmember").await;
        member.post("/organization/set-active", &json!({"organizationId": org_id})).await;

        let v = verifier(&app, |c| c.session_cache_ttl = Duration::ZERO);
        let cookie = cookie_header(&owner);
        let signed_in = v.verify_session(Credential::Cookie(&cookie)).await.unwrap();
        assert_eq!((signed_in.user.email.as_str(), signed_in.session.active_organization_id.as_deref()), (owner_email.as_str(), Some(org_id)));
        let active = v.active_member(Credential::Cookie(&cookie)).await.unwrap().unwrap();
        assert_eq!((active.organization_id.as_str(), active.role.as_str()), (org_id, "owner"));

        let delete_org = json!({"organization": ["delete"]});
        assert!(v.has_permission(Credential::Cookie(&cookie), &delete_org).await.unwrap());
        let member_cookie = cookie_header(&member);
        assert!(!v.has_permission(Credential::Cookie(&member_cookie), &delete_org).await.unwrap());
        let refused = v.require_permission(Credential::Cookie(&member_cookie), &delete_org).await.unwrap_err();
        assert_eq!(refused.status(), 403, "{refused}");

        // A bearer token works as the cookie does.
        let token = owner.cookie("better-auth.session_token").unwrap();
        let token = url::form_urlencoded::parse(format!("t={token}").as_bytes()).next().unwrap().1.into_owned();
        assert_eq!(v.verify_session(Credential::Bearer(&token)).await.unwrap().user.email, owner_email);

        // The positive cache believes a confirmed session for its TTL (10 s by default)...
        let caching = verifier(&app, |_| {});
        caching.verify_session(Credential::Cookie(&cookie)).await.unwrap();
        owner.post("/sign-out", &json!({})).await;
        assert_eq!(caching.verify_session(Credential::Cookie(&cookie)).await.unwrap().user.email, owner_email);
        // ...and there is no negative cache: without the positive one, a signed-out session is
        // refused at once.
        let gone = v.verify_session(Credential::Cookie(&cookie)).await.unwrap_err();
        assert!(matches!(gone, VerifyError::Unauthenticated(_)), "{gone}");
        assert_eq!(gone.status(), 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_verify_through_the_key_set_and_its_rotation() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("JWT_KEY_ROTATION_SECONDS", "1")])
        .await
        .unwrap();
    let (b, email) = app.new_user("vjwt").await;
    let user_id = b.session().await["user"]["id"].as_str().unwrap().to_owned();
    let first = jwt(&b).await;

    let eager = verifier(&app, |c| c.jwks_refetch_floor = Duration::ZERO);
    let patient = verifier(&app, |_| {});
    for v in [&eager, &patient] {
        let claims = v.verify_jwt(&first).await.unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.email.as_deref()),
            (user_id.as_str(), Some(email.as_str()))
        );
    }

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let second = jwt(&b).await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_ne!(kid(&first), kid(&second), "signed by the rotated key");
    assert_eq!(
        eager.verify_jwt(&second).await.unwrap().sub,
        user_id,
        "an unknown key fetches the set again"
    );
    let held_back = patient.verify_jwt(&second).await.unwrap_err();
    assert!(
        held_back.to_string().contains("unknown key"),
        "within the floor the set is not fetched again: {held_back}"
    );

    // Tampering, another audience and a refused algorithm are all 401s.
    let mut parts: Vec<String> = second.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_eq!(
        eager.verify_jwt(&parts.join(".")).await.unwrap_err().status(),
        401
    );
    let elsewhere = verifier(&app, |c| c.audience = "https://other.example".to_owned());
    assert!(
        elsewhere
            .verify_jwt(&second)
            .await
            .unwrap_err()
            .to_string()
            .contains("token refused")
    );
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": user_id, "iss": app.origin, "aud": app.origin, "exp": 4_102_444_800_u64}),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert!(
        eager
            .verify_jwt(&hs256)
            .await
            .unwrap_err()
            .to_string()
            .contains("not allowed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_castellan_is_unavailable_not_unauthenticated() {
    let port = castellan_e2e::free_tcp_port();
    let v = Verifier::new(&format!("http://127.0.0.1:{port}/api/auth")).unwrap();
    let e = v
        .verify_session(Credential::Cookie("better-auth.session_token=x"))
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::Unavailable(_)), "{e}");
    assert_eq!(e.status(), 503);
    assert!(matches!(Verifier::new("not a url"), Err(VerifyError::Config(_))));
}

/// A service at `addr` with `/me` (the session's email) and `/api` (the JWT's subject) behind
/// the extractors: the signed-in browser gets through, anyone else gets a JSON 401.
async fn answers_like_a_service(addr: std::net::SocketAddr, b: &Browser, email: &str) {
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("http://{addr}{path}"));
    let me = get("/me")
        .header("cookie", cookie_header(b))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (me.status().as_u16(), me.text().await.unwrap()),
        (200, email.to_owned())
    );
    let anonymous = get("/me").send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["code"], "UNAUTHORIZED");
    let api = get("/api").bearer_auth(jwt(b).await).send().await.unwrap();
    assert_eq!(api.status().as_u16(), 200);
    let forged = get("/api").bearer_auth("a.b.c").send().await.unwrap();
    assert_eq!(forged.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actix_extractors_answer_for_the_service() {
    use actix_web::{App, HttpServer, web};
    use castellan_verify::actix::{Jwt, SignedIn};

    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (b, email) = app.new_user("vactix").await;
    let verifier = web::Data::new(Verifier::new(&app.auth_url).unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/me", web::get().to(|s: SignedIn| async move { s.0.user.email }))
            .route("/api", web::get().to(|j: Jwt| async move { j.0.sub }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let handle = server.run();
    let stop = handle.handle();
    tokio::spawn(handle);

    answers_like_a_service(addr, &b, &email).await;
    stop.stop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_extractors_answer_for_the_service() {
    use std::sync::Arc;

    use axum::routing::get;
    use castellan_verify::axum::{Jwt, SignedIn};

    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (b, email) = app.new_user("vaxum").await;
    let verifier = Arc::new(Verifier::new(&app.auth_url).unwrap());
    let router = axum::Router::new()
        .route("/me", get(|s: SignedIn| async move { s.0.user.email }))
        .route("/api", get(|j: Jwt| async move { j.0.sub }))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move { axum::serve(listener, router).await });

    answers_like_a_service(addr, &b, &email).await;
    served.abort();
}
