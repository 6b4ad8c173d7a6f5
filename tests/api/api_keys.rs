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

/// `POST /api-key/verify` as a downstream backend calls it: no session, the key in the body.
async fn verify(app: &castellan_e2e::TestApp, body: serde_json::Value) -> serde_json::Value {
    let r = app.browser().post("/api-key/verify", &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json
}

both_backends! {
    async fn organization_keys_verify_as_their_organization_with_their_own_casbin_role(app: TestApp) {
        let (owner, _) = app.new_user("okv").await;
        let org = orgs::create(&owner, "okv").await;
        let org_id = org["id"].as_str().unwrap().to_owned();
        let (admin, _, _) = orgs::add_member(&app, &owner, &org_id, "admin", "okva").await;

        // An admin holds organization:update (so may make keys) but not organization:delete.
        let too_much = admin.post("/api-key/create", &json!({"organizationId": org_id, "permissions": {"organization": ["delete"]}})).await;
        assert_eq!((too_much.status, too_much.code()), (403, "YOU_CANNOT_GRANT_AN_API_KEY_MORE_THAN_YOU_HOLD"), "{}", too_much.text);
        let created = admin.post("/api-key/create", &json!({"organizationId": org_id, "permissions": {"invitation": ["create"], "team": ["create"]}})).await;
        assert_eq!(created.status, 200, "{}", created.text);
        assert_eq!(created.json["referenceId"], org_id.as_str());
        assert_eq!(created.json["permissions"], json!({"invitation": ["create"], "team": ["create"]}));
        let key = created.json["key"].as_str().unwrap().to_owned();

        // The key speaks for its organization, within its role.
        let ok = verify(&app, json!({"key": key, "permissions": {"invitation": ["create"]}})).await;
        assert_eq!(ok["valid"], true, "{ok}");
        assert_eq!(ok["error"], serde_json::Value::Null);
        assert_eq!(ok["key"]["referenceId"], org_id.as_str());
        assert!(ok["key"].get("key").is_none(), "the hash never leaves");
        let beyond = verify(&app, json!({"key": key, "permissions": {"invitation": ["create"], "member": ["delete"]}})).await;
        assert_eq!((beyond["valid"].clone(), beyond["error"]["code"].clone()), (json!(false), json!("KEY_NOT_FOUND")), "{beyond}");
        assert_eq!(beyond["key"], serde_json::Value::Null);
        let unknown = verify(&app, json!({"key": key, "permissions": {"nonsense": ["read"]}})).await;
        assert_eq!(unknown["valid"], false);
        // Without permissions asked, only the key itself is checked.
        assert_eq!(verify(&app, json!({"key": key})).await["valid"], true);
        // Its role is no member's: nobody can be given it as a custom role.
        let taken = owner.post("/organization/create-role", &json!({"organizationId": org_id, "role": format!("apikey:{}", created.json["id"].as_str().unwrap()), "permission": {"ac": ["read"]}})).await;
        assert_eq!((taken.status, taken.code()), (400, "ROLE_NAME_IS_ALREADY_TAKEN"), "{}", taken.text);

        // Another organization's key grants nothing here, and this one nothing there.
        let (other_owner, _) = app.new_user("okvo").await;
        let other = orgs::create(&other_owner, "okvo").await;
        let other_key = other_owner.post("/api-key/create", &json!({"organizationId": other["id"], "permissions": {"team": ["create"]}})).await;
        let other_key = other_key.json["key"].as_str().unwrap().to_owned();
        let there = verify(&app, json!({"key": other_key, "permissions": {"invitation": ["create"]}})).await;
        assert_eq!(there["valid"], false, "{there}");
        assert_eq!(verify(&app, json!({"key": other_key, "permissions": {"team": ["create"]}})).await["key"]["referenceId"], other["id"]);

        // Deleted: the key and its role are gone.
        let deleted = admin.post("/api-key/delete", &json!({"keyId": created.json["id"]})).await;
        assert_eq!(deleted.status, 200, "{}", deleted.text);
        let gone = verify(&app, json!({"key": key, "permissions": {"invitation": ["create"]}})).await;
        assert_eq!(gone["error"]["code"], "INVALID_API_KEY", "{gone}");
    }

    async fn user_keys_verify_against_their_own_permissions(app: TestApp) {
        let (b, _) = app.new_user("ukv").await;
        let refused = b.post("/api-key/create", &json!({"permissions": {"files": ["read"]}})).await;
        assert_eq!((refused.status, refused.code()), (400, "SERVER_ONLY_PROPERTY"), "{}", refused.text);
        let key = b.post("/api-key/create", &json!({"name": "svc"})).await.json["key"].as_str().unwrap().to_owned();
        let ok = verify(&app, json!({"key": key})).await;
        assert_eq!(ok["valid"], true, "{ok}");
        assert_eq!(ok["key"]["name"], "svc");
        // A key without permissions grants none.
        let asked = verify(&app, json!({"key": key, "permissions": {"files": ["read"]}})).await;
        assert_eq!(asked["error"]["code"], "KEY_NOT_FOUND", "{asked}");
        let wrong_config = verify(&app, json!({"key": key, "configId": "other"})).await;
        assert_eq!(wrong_config["error"]["code"], "INVALID_API_KEY");
        let bogus = verify(&app, json!({"key": "cst_not_a_key"})).await;
        assert_eq!(bogus, json!({"valid": false, "error": {"code": "INVALID_API_KEY", "message": "Invalid API key."}, "key": null}));
        // The key's own rate limit (10 a day by default) counts verifications too.
        let mut last = serde_json::Value::Null;
        for _ in 0..12 {
            last = verify(&app, json!({"key": key})).await;
        }
        assert_eq!(last["error"]["code"], "RATE_LIMITED", "{last}");
        assert!(last["error"]["details"]["tryAgainIn"].as_i64().unwrap() > 0);
        let missing = app.browser().post("/api-key/verify", &json!({})).await;
        assert_eq!((missing.status, missing.code()), (400, "VALIDATION_ERROR"));
    }
}
