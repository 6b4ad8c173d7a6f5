//! Several replicas on one Postgres and Redis: a revocation on one is seen by all at once.

use castellan_e2e::{Backend, TestApp};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_on_one_replica_is_seen_by_the_other_immediately() {
    let Some(a) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let b = TestApp::spawn_on(a.storage.share(), &[]).await;
    let (on_a, _) = a.new_user("replica").await;
    let cookie = on_a.cookie("better-auth.session_token").unwrap();
    let on_b = b.browser();
    on_b.set_cookie("better-auth.session_token", &cookie);
    // Served (and cached) by replica B.
    let s = on_b.session().await;
    assert_eq!(s["session"]["token"], on_a.session().await["session"]["token"]);
    // A profile change on A is visible on B at once.
    on_a.post("/update-user", &json!({"name": "Seen everywhere"}))
        .await;
    assert_eq!(on_b.session().await["user"]["name"], "Seen everywhere");
    // Signed out on A: B no longer accepts the cookie.
    on_a.post("/sign-out", &json!({})).await;
    assert_eq!(on_b.session().await, Value::Null);
}

/// A custom role changed on one replica applies on the other at once: the policy cache is
/// invalidated over Redis pub/sub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_on_one_replica_reaches_the_others_policy_cache() {
    use castellan_e2e::orgs;
    let Some(a) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let b = TestApp::spawn_on(a.storage.share(), &[]).await;
    let (owner, _) = a.new_user("pubsub").await;
    let org = orgs::create(&owner, "pubsub").await;
    let id = org["id"].as_str().unwrap();
    let (member_on_a, _, row) = orgs::add_member(&a, &owner, id, "member", "pubsubm").await;
    owner
        .post(
            "/organization/create-role",
            &json!({"organizationId": id, "role": "helper", "permission": {"ac": ["read"]}}),
        )
        .await;
    owner
        .post(
            "/organization/update-member-role",
            &json!({"organizationId": id, "memberId": row["id"], "role": "helper"}),
        )
        .await;

    let member_on_b = b.browser();
    member_on_b.set_cookie(
        "better-auth.session_token",
        &member_on_a.cookie("better-auth.session_token").unwrap(),
    );
    let ask = json!({"organizationId": id, "permissions": {"invitation": ["create"]}});
    // Replica B loads and caches the organization's policies.
    assert_eq!(
        member_on_b.post("/organization/has-permission", &ask).await.json["success"],
        false
    );
    // Replica A widens the role.
    let upd = owner
        .post("/organization/update-role", &json!({"organizationId": id, "roleName": "helper", "data": {"permission": {"ac": ["read"], "invitation": ["create"]}}}))
        .await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    let mut seen = serde_json::Value::Null;
    for _ in 0..40 {
        seen = member_on_b.post("/organization/has-permission", &ask).await.json["success"].clone();
        if seen == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(seen, true, "replica B never saw the change");
}

/// Two replicas behind one address (a round-robin proxy), brute-forced in parallel: Better
/// Auth's 3 sign-ins per 10 s hold across both, because the counters are shared and atomic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_limit_holds_across_replicas_under_parallel_brute_force() {
    let Some(a) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let b = TestApp::spawn_on(a.storage.share(), &[]).await;
    let (_, email) = a.new_user("brute").await;
    let proxy = castellan_e2e::proxy::Proxy::round_robin(&[
        &format!("127.0.0.1:{}", a.port),
        &format!("127.0.0.1:{}", b.port),
    ])
    .await;
    let url = format!("http://127.0.0.1:{}/api/auth/sign-in/email", proxy.port);
    // A fresh connection per request, so the proxy spreads them over both replicas.
    let attempts = (0..12).map(|i| {
        let url = url.clone();
        let email = email.clone();
        async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap();
            let res = client
                .post(&url)
                .header("x-forwarded-for", "203.0.113.77")
                .json(&json!({"email": email, "password": format!("guess-{i}")}))
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    });
    let mut statuses = futures_util::future::join_all(attempts).await;
    statuses.sort_unstable();
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((refused, limited), (3, 9), "{statuses:?}");
}
