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
