//! API keys: shown once, hashed at rest, authenticate as their owner, with expiry, an enable
//! switch and a per-key rate limit; organization keys need organization admin rights.

use castellan_e2e::orgs;
use serde_json::json;

async fn with_key(app: &castellan_e2e::TestApp, key: &str, path: &str) -> castellan_e2e::Response {
    let req = reqwest::Client::new()
        .get(format!("{}{path}", app.auth_url))
        .header("x-api-key", key);
    app.browser().send(req).await
}

both_backends! {
    async fn keys_are_shown_once_and_authenticate_as_their_owner(app: TestApp) {
        let (b, email) = app.new_user("keys").await;
        let created = b.post("/api-key/create", &json!({"name": "ci", "prefix": "cst_", "metadata": {"env": "ci"}})).await;
        assert_eq!(created.status, 200, "{}", created.text);
        let key = created.json["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("cst_") && key.len() == 4 + 64, "{key}");
        assert_eq!(created.json["start"], &key[..6]);
        assert_eq!(created.json["metadata"], json!({"env": "ci"}));
        let id = created.json["id"].as_str().unwrap().to_owned();

        use sea_orm::EntityTrait as _;
        let stored = castellan_data::entity::api_key::Entity::find_by_id(id.clone()).one(&app.db().await).await.unwrap().unwrap();
        assert_eq!(stored.key, castellan_crypto::signing::sha256_b64url(key.as_bytes()), "only the hash is stored");

        let got = b.get(&format!("/api-key/get?id={id}")).await;
        assert!(got.json.get("key").is_none());
        assert_eq!(b.get("/api-key/list").await.json["total"], 1);

        let s = with_key(&app, &key, "/get-session").await;
        assert_eq!(s.json["user"]["email"], email.as_str());
        // A key that expires soon is not a session to "refresh": get-session still answers.
        let short = b.post("/api-key/create", &json!({"expiresIn": 86_400})).await.json["key"].as_str().unwrap().to_owned();
        assert_eq!(with_key(&app, &short, "/get-session").await.json["user"]["email"], email.as_str());
        let bad = with_key(&app, "cst_nope", "/get-session").await;
        assert_eq!((bad.status, bad.code()), (401, "INVALID_API_KEY"));

        let off = b.post("/api-key/update", &json!({"keyId": id, "enabled": false})).await;
        assert_eq!(off.json["enabled"], false);
        assert_eq!(with_key(&app, &key, "/get-session").await.code(), "KEY_DISABLED");
        assert_eq!(b.post("/api-key/delete", &json!({"keyId": id})).await.json, json!({"success": true}));
        assert_eq!(with_key(&app, &key, "/get-session").await.code(), "INVALID_API_KEY");
    }

    async fn per_key_rate_limit_and_server_only_fields(app: TestApp) {
        let (b, _) = app.new_user("keyrl").await;
        let r = b.post("/api-key/create", &json!({"remaining": 100})).await;
        assert_eq!((r.status, r.code()), (400, "SERVER_ONLY_PROPERTY"));
        let r = b.post("/api-key/create", &json!({"expiresIn": 60})).await;
        assert_eq!(r.code(), "EXPIRES_IN_IS_TOO_SMALL");
        let key = b.post("/api-key/create", &json!({})).await.json["key"].as_str().unwrap().to_owned();
        for i in 0..10 {
            assert_eq!(with_key(&app, &key, "/get-session").await.status, 200, "request {i}");
        }
        let limited = with_key(&app, &key, "/get-session").await;
        assert_eq!((limited.status, limited.code()), (429, "RATE_LIMITED"));
        assert!(limited.json["details"]["tryAgainIn"].as_i64().unwrap() > 0);
    }

    async fn organization_keys_need_organization_admin_rights(app: TestApp) {
        let (owner, _) = app.new_user("orgkeys").await;
        let org = orgs::create(&owner, "keys").await;
        let org_id = org["id"].as_str().unwrap();
        let (member, _, _) = orgs::add_member(&app, &owner, org_id, "member", "orgkeym").await;
        let denied = member.post("/api-key/create", &json!({"organizationId": org_id})).await;
        assert_eq!(denied.status, 403);
        let created = owner.post("/api-key/create", &json!({"organizationId": org_id, "name": "deploy"})).await;
        assert_eq!(created.json["referenceId"], org_id);
        let id = created.json["id"].as_str().unwrap();
        assert_eq!(owner.get(&format!("/api-key/list?organizationId={org_id}")).await.json["total"], 1);
        let (outsider, _) = app.new_user("outsider").await;
        assert_eq!(outsider.get(&format!("/api-key/get?id={id}")).await.status, 404);
        assert_eq!(member.post("/api-key/delete", &json!({"keyId": id})).await.status, 404);
        // Organization keys are not a user's session.
        let key = created.json["key"].as_str().unwrap();
        assert_eq!(with_key(&app, key, "/get-session").await.code(), "INVALID_API_KEY");
    }
}
