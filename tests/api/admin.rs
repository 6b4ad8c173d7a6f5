//! The admin back office: permissions, bans with expiry, impersonation and its limits and audit.

use castellan_e2e::PASSWORD;
use serde_json::{Value, json};

const ADMIN: &str = "root@admin.e2e.test";

async fn admin(app: &castellan_e2e::TestApp) -> castellan_e2e::Browser {
    let b = app.browser();
    let r = b
        .post(
            "/sign-up/email",
            &json!({"email": ADMIN, "password": PASSWORD, "name": "Root"}),
        )
        .await;
    assert_eq!(
        r.json["user"]["role"], "admin",
        "ADMIN_EMAILS makes this address an admin: {}",
        r.text
    );
    b
}

async fn spawn(backend: castellan_e2e::Backend) -> Option<castellan_e2e::TestApp> {
    castellan_e2e::TestApp::spawn_with(backend, &[("ADMIN_EMAILS", ADMIN)]).await
}

macro_rules! admin_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(spawn(castellan_e2e::Backend::Sqlite).await.unwrap()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                if let Some(app) = spawn(castellan_e2e::Backend::PostgresRedis).await {
                    ($body)(app).await
                }
            }
        }
    };
}

admin_test!(
    non_admins_are_refused_and_sessionless_calls_get_an_empty_401,
    |app: castellan_e2e::TestApp| async move {
        let (plain, _) = app.new_user("plain").await;
        let r = plain.get("/admin/list-users").await;
        assert_eq!((r.status, r.code()), (403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS"));
        let r = app.browser().get("/admin/list-users").await;
        assert_eq!((r.status, r.text.as_str()), (401, ""));
        let r = plain
            .post(
                "/admin/has-permission",
                &json!({"permissions": {"user": ["list"]}}),
            )
            .await;
        assert_eq!(r.json, json!({"error": null, "success": false}));
    }
);

admin_test!(
    listing_searching_and_sorting_users,
    |app: castellan_e2e::TestApp| async move {
        let root = admin(&app).await;
        let (_, email) = app.new_user("findme").await;
        app.new_user("other").await;
        let r = root
            .get(&format!(
                "/admin/list-users?searchField=email&searchOperator=contains&searchValue={email}"
            ))
            .await;
        assert_eq!(
            (r.json["total"].clone(), r.json["users"][0]["email"].clone()),
            (json!(1), json!(email))
        );
        let r = root
            .get("/admin/list-users?limit=2&offset=0&sortBy=createdAt&sortDirection=desc")
            .await;
        assert_eq!(
            (
                r.json["users"].as_array().unwrap().len(),
                r.json["limit"].clone(),
                r.json["total"].clone()
            ),
            (2, json!(2), json!(3))
        );
        let r = root
            .get("/admin/list-users?filterField=role&filterValue=admin")
            .await;
        assert_eq!(r.json["users"][0]["email"], ADMIN);
        let r = root.get("/admin/list-users?sortBy=password").await;
        assert_eq!(
            (r.status, r.code()),
            (400, "VALIDATION_ERROR"),
            "Better Auth answers 500 here"
        );
    }
);

admin_test!(
    bans_revoke_sessions_and_expire,
    |app: castellan_e2e::TestApp| async move {
        let root = admin(&app).await;
        let (victim, email) = app.new_user("banned").await;
        let id = victim.session().await["user"]["id"].as_str().unwrap().to_owned();
        let r = root
            .post(
                "/admin/ban-user",
                &json!({"userId": id, "banReason": "spam", "banExpiresIn": 1}),
            )
            .await;
        assert_eq!(
            (
                r.json["user"]["banned"].clone(),
                r.json["user"]["banReason"].clone()
            ),
            (json!(true), json!("spam"))
        );
        assert_eq!(victim.session().await, Value::Null, "a ban ends every session");
        let r = app
            .browser()
            .post("/sign-in/email", &json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!((r.status, r.code()), (403, "BANNED_USER"));
        tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
        let r = app
            .browser()
            .post("/sign-in/email", &json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 200, "an expired ban no longer blocks: {}", r.text);
        let myself = root.session().await["user"]["id"].clone();
        assert_eq!(
            root.post("/admin/ban-user", &json!({"userId": myself}))
                .await
                .code(),
            "YOU_CANNOT_BAN_YOURSELF"
        );
    }
);

admin_test!(
    impersonation_is_limited_and_audited,
    |app: castellan_e2e::TestApp| async move {
        let root = admin(&app).await;
        let own_token = root.session().await["session"]["token"].clone();
        let (target, _) = app.new_user("target").await;
        let target_id = target.session().await["user"]["id"].as_str().unwrap().to_owned();
        let imp = root
            .post(
                "/admin/impersonate-user",
                &json!({"userId": target_id, "reason": "ticket 42"}),
            )
            .await;
        assert_eq!(imp.status, 200, "{}", imp.text);
        let s = root.session().await;
        assert_eq!(s["user"]["id"], target_id.as_str());
        let created =
            chrono::DateTime::parse_from_rfc3339(s["session"]["createdAt"].as_str().unwrap()).unwrap();
        let expires =
            chrono::DateTime::parse_from_rfc3339(s["session"]["expiresAt"].as_str().unwrap()).unwrap();
        assert!((expires - created).num_seconds() <= 3600);

        // What an impersonated session may not do.
        let r = root
            .post(
                "/change-password",
                &json!({"currentPassword": PASSWORD, "newPassword": "Hijacked-password-1"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (403, "NOT_ALLOWED_WHILE_IMPERSONATING"));
        let r = root
            .post("/change-email", &json!({"newEmail": "hijack@e2e.test"}))
            .await;
        assert_eq!(r.code(), "NOT_ALLOWED_WHILE_IMPERSONATING");
        let r = root
            .post("/admin/impersonate-user", &json!({"userId": target_id}))
            .await;
        assert_eq!(r.code(), "NOT_ALLOWED_WHILE_IMPERSONATING");
        assert!(
            target
                .get("/list-sessions")
                .await
                .json
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["impersonatedBy"].is_null())
        );

        let stop = root.post("/admin/stop-impersonating", &json!({})).await;
        assert_eq!(stop.status, 200, "{}", stop.text);
        assert_eq!(root.session().await["session"]["token"], own_token);
        let again = root.post("/admin/stop-impersonating", &json!({})).await;
        assert_eq!(
            (again.status, again.json.clone()),
            (400, json!({"message": "You are not impersonating anyone"}))
        );

        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        let entries = castellan_data::entity::audit_log::Entity::find()
            .filter(castellan_data::entity::audit_log::Column::OrganizationId.eq("platform"))
            .order_by_asc(castellan_data::entity::audit_log::Column::Seq)
            .all(&app.db().await)
            .await
            .unwrap();
        let trail: Vec<(&str, Option<&str>)> = entries
            .iter()
            .map(|e| (e.action.as_str(), e.target_id.as_deref()))
            .collect();
        assert_eq!(
            trail,
            [
                ("admin.impersonation_start", Some(target_id.as_str())),
                ("admin.impersonation_stop", Some(target_id.as_str()))
            ]
        );
        assert!(entries[0].details.as_deref().unwrap().contains("ticket 42"));
        assert_eq!(
            entries[0].actor_id,
            root.session().await["user"]["id"].as_str().map(str::to_owned)
        );
    }
);

mod reasons {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reason_can_be_made_mandatory() {
        let app = castellan_e2e::TestApp::spawn_with(
            castellan_e2e::Backend::Sqlite,
            &[("ADMIN_EMAILS", ADMIN), ("IMPERSONATION_REQUIRE_REASON", "1")],
        )
        .await
        .unwrap();
        let root = admin(&app).await;
        let (target, _) = app.new_user("t").await;
        let id = target.session().await["user"]["id"].clone();
        let r = root.post("/admin/impersonate-user", &json!({"userId": id})).await;
        assert_eq!((r.status, r.code()), (400, "IMPERSONATION_REASON_REQUIRED"));
        assert_eq!(
            root.post(
                "/admin/impersonate-user",
                &json!({"userId": id, "reason": "support"})
            )
            .await
            .status,
            200
        );
    }
}

admin_test!(
    the_platform_audit_log_is_for_admins_and_its_chain_holds,
    |app: castellan_e2e::TestApp| async move {
        let root = admin(&app).await;
        let (plain, _) = app.new_user("audit-plain").await;
        let (_, target_email) = app.new_user("audit-target").await;
        let target = root
            .get(&format!(
                "/admin/list-users?searchField=email&searchValue={target_email}"
            ))
            .await
            .json["users"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = root
            .post("/admin/ban-user", &json!({"userId": target, "banReason": "spam"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = root
            .post("/admin/set-role", &json!({"userId": target, "role": "admin"}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);

        let log = root.get("/admin/audit-log?limit=10").await;
        assert_eq!(log.status, 200, "{}", log.text);
        let actions: Vec<&str> = log.json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["admin.set_role", "admin.ban"], "newest first");
        assert_eq!(log.json["entries"][1]["details"]["reason"], "spam");
        assert_eq!(log.json["entries"][1]["targetId"], target.as_str());
        assert_eq!((&log.json["total"], &log.json["limit"]), (&json!(2), &json!(10)));
        let chain = root.get("/admin/audit-log/verify").await;
        assert_eq!(
            chain.json,
            json!({"valid": true, "entries": 2, "brokenAtSeq": null})
        );

        for path in ["/admin/audit-log", "/admin/audit-log/verify"] {
            let r = plain.get(path).await;
            assert_eq!(
                (r.status, r.code()),
                (403, "YOU_ARE_NOT_ALLOWED_TO_READ_THE_AUDIT_LOG"),
                "{path}: {}",
                r.text
            );
            assert_eq!(app.browser().get(path).await.status, 401, "{path}");
        }
    }
);
