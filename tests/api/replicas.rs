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

/// How many membership checks the process's replicas answered from their caches.
async fn membership_cache_hits(app: &TestApp) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.origin))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(r#"castellan_membership_cache_total{result="hit"} "#))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A replica remembers memberships; a member demoted or removed on another replica is refused
/// by it on the very next request: the change is announced over Redis pub/sub, and answered
/// only once every replica confirmed dropping its copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_change_on_one_replica_is_seen_by_the_others_on_the_very_next_request() {
    use castellan_e2e::orgs;
    let Some(a) = TestApp::spawn(Backend::PostgresRedis).await else {
        return;
    };
    let b = TestApp::spawn_on(a.storage.share(), &[]).await;
    let (owner, _) = a.new_user("memcache").await;
    let org = orgs::create(&owner, "memcache").await;
    let id = org["id"].as_str().unwrap();
    let (admin_on_a, _, admin_row) = orgs::add_member(&a, &owner, id, "admin", "memcachea").await;
    let (member_on_a, _, member_row) = orgs::add_member(&a, &owner, id, "member", "memcachem").await;
    let on_b = |user: &castellan_e2e::Browser| {
        let there = b.browser();
        there.set_cookie(
            "better-auth.session_token",
            &user.cookie("better-auth.session_token").unwrap(),
        );
        there
    };
    let (admin_on_b, member_on_b) = (on_b(&admin_on_a), on_b(&member_on_a));
    let may_remove = json!({"organizationId": id, "permissions": {"member": ["delete"]}});
    let members = format!("/organization/list-members?organizationId={id}");

    // B remembers both memberships: once its subscription is up, a repeat is a cache hit.
    let mut cached = false;
    for _ in 0..80 {
        let before = membership_cache_hits(&b).await;
        let answer = admin_on_b.post("/organization/has-permission", &may_remove).await;
        assert_eq!(answer.json["success"], true, "{}", answer.text);
        assert_eq!(member_on_b.get(&members).await.json["total"], 3);
        if membership_cache_hits(&b).await >= before + 2 {
            cached = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(cached, "replica B never answered from its membership cache");

    // Demoted on A: B's very next decision uses the new role.
    let demoted = owner
        .post(
            "/organization/update-member-role",
            &json!({"organizationId": id, "memberId": admin_row["id"], "role": "member"}),
        )
        .await;
    assert_eq!(demoted.status, 200, "{}", demoted.text);
    let answer = admin_on_b.post("/organization/has-permission", &may_remove).await;
    assert_eq!(answer.json["success"], false, "{}", answer.text);

    // Removed on A: B's very next request is refused as from a non-member.
    let removed = owner
        .post(
            "/organization/remove-member",
            &json!({"organizationId": id, "memberIdOrEmail": member_row["id"]}),
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    let refused = member_on_b.get(&members).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.json["code"], "YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION");
    // The one who stays is still served, from a fresh read.
    assert_eq!(admin_on_b.get(&members).await.json["total"], 2);

    // B also keeps the sessions it served in its own memory: a sign-out on A ends it there too.
    assert_eq!(admin_on_b.session().await["user"]["id"], admin_row["userId"]);
    admin_on_a.post("/sign-out", &json!({})).await;
    assert_eq!(admin_on_b.session().await, Value::Null);
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
