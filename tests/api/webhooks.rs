//! Webhooks: events leave in the transaction of their change, signed as Standard Webhooks says
//! (checked by the `standardwebhooks` reference library), in order, exactly once by id even when
//! the receiver fails for a while, never to the operator's network by default, and managed only
//! by the owners the policy names.

use std::time::Duration;

use castellan_e2e::webhooks::{Receiver, verify_independently};
use castellan_e2e::{Backend, Browser, PASSWORD, TestApp, orgs};
use serde_json::{Value, json};

const ADMIN: &str = "root@webhooks.e2e.test";

/// A server that may post to loopback, retrying quickly.
async fn spawn(backend: Backend, schedule: &str) -> Option<TestApp> {
    TestApp::spawn_with(
        backend,
        &[
            ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1"),
            ("WEBHOOK_RETRY_SCHEDULE", schedule),
            ("WEBHOOK_TIMEOUT_SECONDS", "2"),
            ("ADMIN_EMAILS", ADMIN),
        ],
    )
    .await
}

async fn create_webhook(owner: &Browser, body: Value) -> Value {
    let r = owner.post("/webhook/create", &body).await;
    assert_eq!(r.status, 200, "create webhook: {}", r.text);
    assert!(
        r.json["secret"].as_str().unwrap().starts_with("whsec_"),
        "{}",
        r.text
    );
    r.json
}

fn types(got: &[castellan_e2e::webhooks::Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

per_backend! {
    async fn events_arrive_signed_in_order_and_exactly_once_after_the_receiver_recovers(backend) {
        let Some(app) = spawn(backend, "100ms,200ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms").await else { return };
        let receiver = Receiver::start().await;
        let (owner, _) = app.new_user("whowner").await;
        let org = orgs::create(&owner, "wh").await;
        let org_id = org["id"].as_str().unwrap();
        let hook = create_webhook(
            &owner,
            json!({"url": receiver.url, "eventTypes": ["team.*", "invitation.create", "member.add"], "organizationId": org_id}),
        )
        .await;
        let secret = hook["secret"].as_str().unwrap().to_owned();
        assert_eq!(hook["organizationId"], org_id);
        assert_eq!(hook["eventTypes"], json!(["invitation.create", "member.add", "team.*"]));

        receiver.set_failing(true);
        for name in ["red", "green", "blue"] {
            let r = owner.post("/organization/create-team", &json!({"name": name, "organizationId": org_id})).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        orgs::add_member(&app, &owner, org_id, "member", "whmember").await;
        // Not subscribed: no delivery.
        let r = owner.post("/organization/update", &json!({"data": {"name": "Renamed"}, "organizationId": org_id})).await;
        assert_eq!(r.status, 200, "{}", r.text);

        // The failing receiver is retried (however slowly this machine runs).
        let refused = receiver.wait_until_received(Duration::from_secs(20), |got| got.len() >= 2).await;
        assert!(receiver.accepted().is_empty());
        assert!(
            refused.iter().all(|r| r.id == refused[0].id),
            "nothing after the first event is sent while it is undelivered"
        );

        receiver.set_failing(false);
        let expected = ["team.create", "team.create", "team.create", "invitation.create", "member.add"];
        let got = receiver.wait_until(Duration::from_secs(20), |got| got.len() >= expected.len()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got_after = receiver.accepted();
        assert_eq!(got_after.len(), expected.len(), "nothing is taken twice: {:?}", types(&got_after));
        assert_eq!(types(&got), expected, "in the order the changes were made");
        let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), expected.len(), "one webhook-id per event");
        assert_eq!(got[0].id, refused[0].id, "retries keep their webhook-id");
        let seqs: Vec<i64> = got.iter().map(|r| r.json()["data"]["auditSeq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "audit order: {seqs:?}");
        for r in &got {
            let body = r.json();
            assert_eq!(body["data"]["organizationId"], org_id);
            assert!(body["timestamp"].is_string());
        }
        assert_eq!(got[0].json()["data"]["details"]["name"], "red");

        if let Some(results) = verify_independently(&secret, &got).await {
            assert_eq!(results, vec!["ok"; expected.len()], "standardwebhooks verifies every delivery");
        }
        // A tampered body does not verify: the check above can fail.
        let mut forged = got[0].clone();
        forged.body = forged.body.replace("red", "rex");
        if let Some(results) = verify_independently(&secret, &[forged]).await {
            assert!(results[0].starts_with("fail"), "{results:?}");
        }

        let r = owner
            .get(&format!("/webhook/list-deliveries?webhookId={}&organizationId={org_id}", hook["id"].as_str().unwrap()))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["total"], expected.len());
        let deliveries = r.json["deliveries"].as_array().unwrap();
        assert!(deliveries.iter().all(|d| d["status"] == "delivered" && d["lastStatus"] == 204));
        let first = deliveries.last().unwrap();
        assert_eq!(first["id"], got[0].id.as_str());
        assert!(first["attempts"].as_i64().unwrap() >= 2, "{first}");
        assert_eq!(first["payload"]["type"], "team.create");
    }

    async fn a_spent_retry_schedule_disables_the_endpoint_tells_the_owners_and_redelivery_resumes(backend) {
        let Some(app) = spawn(backend, "50ms,50ms").await else { return };
        let receiver = Receiver::start().await;
        receiver.set_failing(true);
        let (owner, owner_email) = app.new_user("whdis").await;
        let org = orgs::create(&owner, "whdis").await;
        let org_id = org["id"].as_str().unwrap();
        let hook = create_webhook(&owner, json!({"url": receiver.url, "eventTypes": ["team.create"], "organizationId": org_id})).await;
        let hook_id = hook["id"].as_str().unwrap();
        let r = owner.post("/organization/create-team", &json!({"name": "t1", "organizationId": org_id})).await;
        assert_eq!(r.status, 200, "{}", r.text);

        let mail = app.wait_mail("webhook-disabled", &owner_email).await;
        assert_eq!(mail["webhookId"], hook_id);
        assert_eq!(receiver.received().len(), 3, "the first attempt and two retries");
        let listed = owner.get(&format!("/webhook/list?organizationId={org_id}")).await;
        assert_eq!(listed.json[0]["enabled"], false, "{}", listed.text);
        assert!(listed.json[0]["disabledReason"].as_str().unwrap().contains("503"), "{}", listed.text);
        assert!(listed.json[0].get("secret").is_none(), "the secret is shown once");
        let r = owner.get(&format!("/webhook/list-deliveries?webhookId={hook_id}&status=failed&organizationId={org_id}")).await;
        assert_eq!(r.json["total"], 1, "{}", r.text);
        let failed = r.json["deliveries"][0].clone();
        assert_eq!(failed["attempts"], 3);

        // Disabled: new events are not queued for it.
        let r = owner.post("/organization/create-team", &json!({"name": "t2", "organizationId": org_id})).await;
        assert_eq!(r.status, 200);
        receiver.set_failing(false);
        let r = owner.post("/webhook/update", &json!({"webhookId": hook_id, "enabled": true, "organizationId": org_id})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["enabled"], true);
        assert_eq!(r.json["disabledReason"], Value::Null);
        let r = owner.post("/webhook/redeliver", &json!({"deliveryId": failed["id"], "organizationId": org_id})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let got = receiver.wait_until(Duration::from_secs(10), |g| !g.is_empty()).await;
        assert_eq!(got[0].id, failed["id"].as_str().unwrap(), "the same webhook-id");
        assert_eq!(got[0].json()["data"]["details"]["name"], "t1");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(receiver.accepted().len(), 1, "t2 happened while disabled");
    }

    async fn platform_endpoints_get_user_and_session_events_without_secrets(backend) {
        let Some(app) = spawn(backend, "100ms").await else { return };
        let receiver = Receiver::start().await;
        let admin = app.browser();
        let r = admin.post("/sign-up/email", &json!({"email": ADMIN, "password": PASSWORD, "name": "Root"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (someone, _) = app.new_user("whplain").await;
        let r = someone.post("/webhook/create", &json!({"url": receiver.url, "scope": "platform"})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        assert_eq!(r.json["code"], "YOU_ARE_NOT_ALLOWED_TO_MANAGE_PLATFORM_WEBHOOKS");
        let hook = create_webhook(&admin, json!({"url": receiver.url, "scope": "platform", "eventTypes": ["user.*", "session.*"]})).await;
        assert_eq!(hook["organizationId"], Value::Null);

        let (user, email) = app.new_user("whevents").await;
        let token = user.session().await["session"]["token"].as_str().unwrap().to_owned();
        let r = user.post("/sign-out", &json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let got = receiver.wait_until(Duration::from_secs(10), |g| g.len() >= 3).await;
        assert_eq!(types(&got), ["user.created", "session.created", "session.revoked"]);
        assert_eq!(got[0].json()["data"]["email"], email.as_str());
        assert_eq!(got[1].json()["data"]["authMethod"], "password");
        assert_eq!(got[1].json()["data"]["id"], got[2].json()["data"]["id"]);
        for r in &got {
            assert!(!r.body.contains(&token), "a session token left in a webhook: {}", r.body);
            assert!(!r.body.contains(PASSWORD), "a password left in a webhook: {}", r.body);
            let data = r.json()["data"].clone();
            assert!(data.get("token").is_none() && data.get("password").is_none(), "{data}");
        }
        if let Some(results) = verify_independently(hook["secret"].as_str().unwrap(), &got).await {
            assert_eq!(results, vec!["ok"; 3]);
        }
        let listed = admin.get("/webhook/list?scope=platform").await;
        assert_eq!(listed.json.as_array().unwrap().len(), 1, "{}", listed.text);
        let listed = someone.get("/webhook/list?scope=platform").await;
        assert_eq!(listed.status, 403);
    }

    async fn a_rotated_secret_signs_beside_the_old_one_for_a_day(backend) {
        let Some(app) = spawn(backend, "100ms").await else { return };
        let receiver = Receiver::start().await;
        let (owner, _) = app.new_user("whrot").await;
        let org = orgs::create(&owner, "whrot").await;
        let org_id = org["id"].as_str().unwrap();
        let hook = create_webhook(&owner, json!({"url": receiver.url, "eventTypes": ["team.create"], "organizationId": org_id})).await;
        let old = hook["secret"].as_str().unwrap().to_owned();
        let r = owner.post("/webhook/rotate-secret", &json!({"webhookId": hook["id"], "organizationId": org_id})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let new = r.json["secret"].as_str().unwrap().to_owned();
        assert_ne!(new, old);
        let until = chrono::DateTime::parse_from_rfc3339(r.json["previousSecretExpiresAt"].as_str().unwrap()).unwrap();
        let hours = (until.to_utc() - chrono::Utc::now()).num_minutes();
        assert!((23 * 60..=24 * 60).contains(&hours), "{hours} minutes of grace");
        let r = owner.post("/organization/create-team", &json!({"name": "after", "organizationId": org_id})).await;
        assert_eq!(r.status, 200);
        let got = receiver.wait_until(Duration::from_secs(10), |g| !g.is_empty()).await;
        assert_eq!(got[0].signature.split(' ').count(), 2, "{}", got[0].signature);
        for secret in [&old, &new] {
            if let Some(results) = verify_independently(secret, &got[..1]).await {
                assert_eq!(results, ["ok"], "verifies with {secret}");
            }
        }
    }
}

both_backends! {
    // Endpoints here are `.invalid` names (RFC 2606): they pass the public-address rule and
    // resolve nowhere, so no delivery attempt leaves the machine.
    async fn webhook_urls_must_be_public_and_only_the_policys_roles_manage_them(app: TestApp) {
        let (owner, _) = app.new_user("whscope").await;
        let org = orgs::create(&owner, "whscope").await;
        let org_id = org["id"].as_str().unwrap();
        for (url, code) in [
            ("http://127.0.0.1:9/hook", "WEBHOOK_URL_NOT_ALLOWED"),
            ("http://169.254.169.254/latest/meta-data", "WEBHOOK_URL_NOT_ALLOWED"),
            ("http://[::1]/x", "WEBHOOK_URL_NOT_ALLOWED"),
            ("http://localhost:3000/x", "WEBHOOK_URL_NOT_ALLOWED"),
            ("ftp://hooks.e2e.invalid/x", "INVALID_WEBHOOK_URL"),
            ("https://user:pw@hooks.e2e.invalid/x", "INVALID_WEBHOOK_URL"),
            ("not a url", "INVALID_WEBHOOK_URL"),
        ] {
            let r = owner.post("/webhook/create", &json!({"url": url, "organizationId": org_id})).await;
            assert_eq!((r.status, r.json["code"].as_str()), (400, Some(code)), "{url}: {}", r.text);
        }
        let r = owner
            .post("/webhook/create", &json!({"url": "https://hooks.e2e.invalid/x", "eventTypes": ["Bad Type"], "organizationId": org_id}))
            .await;
        assert_eq!(r.json["code"], "INVALID_EVENT_TYPE", "{}", r.text);
        let hook = create_webhook(&owner, json!({"url": "https://hooks.e2e.invalid/in", "organizationId": org_id, "description": "ERP"})).await;
        let hook_id = hook["id"].as_str().unwrap();
        assert_eq!(hook["eventTypes"], json!([]));

        let (member, _, _) = orgs::add_member(&app, &owner, org_id, "member", "whm").await;
        let r = member.post("/webhook/create", &json!({"url": "https://hooks.e2e.invalid/m", "organizationId": org_id})).await;
        assert_eq!((r.status, r.json["code"].as_str()), (403, Some("YOU_ARE_NOT_ALLOWED_TO_MANAGE_WEBHOOKS")), "{}", r.text);
        let r = member.get(&format!("/webhook/list?organizationId={org_id}")).await;
        assert_eq!(r.status, 403, "members do not read endpoints: {}", r.text);
        let (admin, _, _) = orgs::add_member(&app, &owner, org_id, "admin", "wha").await;
        let r = admin.get(&format!("/webhook/list?organizationId={org_id}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json[0]["id"], hook_id);
        assert_eq!(r.json[0]["description"], "ERP");

        // Another organization's owner sees nothing of it, by any route.
        let (stranger, _) = app.new_user("whstranger").await;
        let theirs = orgs::create(&stranger, "whtheirs").await;
        let theirs_id = theirs["id"].as_str().unwrap();
        let r = stranger.get(&format!("/webhook/list?organizationId={org_id}")).await;
        assert_eq!(r.status, 403, "{}", r.text);
        for (path, body) in [
            ("/webhook/update", json!({"webhookId": hook_id, "url": "https://stolen.e2e.invalid/stolen"})),
            ("/webhook/delete", json!({"webhookId": hook_id})),
            ("/webhook/rotate-secret", json!({"webhookId": hook_id})),
        ] {
            let mut body = body;
            body["organizationId"] = theirs_id.into();
            let r = stranger.post(path, &body).await;
            assert_eq!((r.status, r.json["code"].as_str()), (404, Some("WEBHOOK_NOT_FOUND")), "{path}: {}", r.text);
        }
        let r = stranger.get(&format!("/webhook/list-deliveries?webhookId={hook_id}&organizationId={theirs_id}")).await;
        assert_eq!(r.status, 404, "{}", r.text);
        let r = stranger.post("/webhook/update", &json!({"webhookId": hook_id, "url": "https://stolen.e2e.invalid/x", "organizationId": org_id})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = stranger.post("/webhook/update", &json!({"webhookId": hook_id, "scope": "platform"})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = owner.get(&format!("/webhook/list?organizationId={org_id}")).await;
        assert_eq!(r.json[0]["url"], "https://hooks.e2e.invalid/in", "unchanged");

        let r = owner.post("/webhook/update", &json!({"webhookId": hook_id, "url": "http://10.0.0.1/x", "organizationId": org_id})).await;
        assert_eq!(r.json["code"], "WEBHOOK_URL_NOT_ALLOWED", "{}", r.text);
        let r = owner.post("/webhook/delete", &json!({"webhookId": hook_id, "organizationId": org_id})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = owner.get(&format!("/organization/audit-log?organizationId={org_id}")).await;
        let actions: Vec<&str> = r.json["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"webhook.create") && actions.contains(&"webhook.delete"), "{actions:?}");
    }
}

/// Two replicas on one Postgres: each delivery goes out once, and in order, whichever replica
/// claims it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_deliver_one_event_twice() {
    let Some(first) = spawn(Backend::PostgresRedis, "100ms,200ms").await else {
        return;
    };
    let second = TestApp::spawn_on(
        first.storage.share(),
        &[
            ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "1"),
            ("WEBHOOK_RETRY_SCHEDULE", "100ms,200ms"),
        ],
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.set_delay(Duration::from_millis(20));
    let (owner, _) = first.new_user("whrep").await;
    let org = orgs::create(&owner, "whrep").await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    create_webhook(
        &owner,
        json!({"url": receiver.url, "eventTypes": ["team.create"], "organizationId": org_id}),
    )
    .await;
    let on_second = second.browser();
    let r = on_second
        .post(
            "/sign-in/email",
            &json!({"email": owner.session().await["user"]["email"], "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    const TEAMS: usize = 30;
    for i in 0..TEAMS {
        let b = if i % 2 == 0 { &owner } else { &on_second };
        let r = b
            .post(
                "/organization/create-team",
                &json!({"name": format!("team-{i}"), "organizationId": org_id}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    receiver
        .wait_until(Duration::from_secs(30), |g| g.len() >= TEAMS)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got = receiver.received();
    assert_eq!(got.len(), TEAMS, "one attempt per event, none repeated");
    let names: Vec<String> = got
        .iter()
        .map(|r| r.json()["data"]["details"]["name"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..TEAMS).map(|i| format!("team-{i}")).collect();
    assert_eq!(names, expected, "in order, across both replicas");
}
