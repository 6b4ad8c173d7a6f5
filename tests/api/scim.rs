//! SCIM 2.0 provisioning: owners and admins mint a connection's token; with it a directory
//! creates, finds, updates, deactivates and deletes the organization's users, and manages groups
//! that give roles through the connection's mapping, in the dialects Entra and Okta speak; a
//! token reaches nothing of another organization; and the `scim2-tester` compliance checker
//! finds nothing to fault.

use castellan_e2e::{Browser, PASSWORD, orgs};
use serde_json::{Value, json};

const SCIM_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A directory holding a connection's token.
struct Directory<'a> {
    browser: &'a Browser,
    token: String,
}

impl Directory<'_> {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> castellan_e2e::Response {
        let auth = format!("Bearer {}", self.token);
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/scim+json"),
        ];
        self.browser
            .send_raw(
                method,
                &format!("/scim/v2{path}"),
                &headers,
                body.map(|b| b.to_string()),
            )
            .await
    }

    async fn get(&self, path: &str) -> castellan_e2e::Response {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn create(&self, user: Value) -> castellan_e2e::Response {
        self.call(reqwest::Method::POST, "/Users", Some(user)).await
    }

    async fn patch(&self, id: &str, operations: Value) -> castellan_e2e::Response {
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        self.call(reqwest::Method::PATCH, &format!("/Users/{id}"), Some(body))
            .await
    }
}

async fn token(owner: &Browser, provider_id: &str, org_id: &str) -> String {
    let r = owner
        .post(
            "/scim/generate-token",
            &json!({"providerId": provider_id, "organizationId": org_id}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json["scimToken"].as_str().unwrap().to_owned()
}

/// The organization's members' roles by email, as its owner lists them.
async fn roles(owner: &Browser, org_id: &str) -> std::collections::BTreeMap<String, String> {
    let r = owner
        .get(&format!("/organization/list-members?organizationId={org_id}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The organization's members' emails, as its owner lists them.
async fn member_emails(owner: &Browser, org_id: &str) -> Vec<String> {
    let r = owner
        .get(&format!("/organization/list-members?organizationId={org_id}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut emails: Vec<String> = r.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    emails
}

fn sorted<const N: usize>(mut emails: [String; N]) -> Vec<String> {
    emails.sort();
    emails.to_vec()
}

fn scim_error(r: &castellan_e2e::Response, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.json["schemas"], json!([SCIM_ERROR]), "{}", r.text);
    assert_eq!(r.json["status"], status.to_string());
    assert_eq!(r.json["scimType"].as_str(), scim_type, "{}", r.text);
    let content_type = r.headers["content-type"].to_str().unwrap();
    assert_eq!(content_type, "application/scim+json");
}

both_backends! {
    async fn a_directory_provisions_finds_updates_deactivates_and_deletes_users(app: TestApp) {
        let (owner, owner_email) = app.new_user("scimowner").await;
        let org = orgs::create(&owner, "scim").await;
        let org_id = org["id"].as_str().unwrap();
        let dir = Directory { browser: &app.browser(), token: token(&owner, "entra-acme", org_id).await };

        let r = dir
            .create(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "Grace.Hopper@acme.example",
                "externalId": "00u1",
                "name": {"givenName": "Grace", "familyName": "Hopper"},
                "emails": [{"value": "grace@acme.example", "type": "work", "primary": true}],
                "title": "Rear Admiral",
                "active": true
            }))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.json["id"].as_str().unwrap().to_owned();
        assert_eq!(r.headers["location"].to_str().unwrap(), format!("{}/scim/v2/Users/{id}", app.auth_url));
        assert_eq!(r.json["meta"]["resourceType"], "User");
        assert_eq!(r.json["title"], "Rear Admiral", "what the directory sent comes back");
        assert_eq!(
            member_emails(&owner, org_id).await,
            sorted([owner_email.clone(), "grace@acme.example".to_owned()]),
            "the user joined the organization"
        );
        let again = dir.create(json!({"userName": "grace.hopper@ACME.example", "emails": [{"value": "g2@acme.example"}]})).await;
        scim_error(&again, 409, Some("uniqueness"));
        let r = dir.create(json!({"userName": "alan@acme.example", "name": {"formatted": "Alan Turing"}})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let alan = r.json["id"].as_str().unwrap().to_owned();

        // Filters and pages.
        let r = dir.get("/Users?filter=userName%20eq%20%22grace.hopper%40acme.example%22").await;
        assert_eq!((r.json["totalResults"].as_u64(), r.json["Resources"][0]["id"].as_str()), (Some(1), Some(id.as_str())));
        let r = dir.get("/Users?filter=name.familyName%20co%20%22opp%22%20and%20active%20eq%20true").await;
        assert_eq!(r.json["totalResults"], 1, "{}", r.text);
        let r = dir.get("/Users?filter=userName%20sw%20%22ALAN%22").await;
        assert_eq!(r.json["Resources"][0]["id"], alan.as_str());
        let r = dir.get("/Users?startIndex=2&count=1&attributes=userName").await;
        assert_eq!((r.json["totalResults"].as_u64(), r.json["startIndex"].as_u64(), r.json["itemsPerPage"].as_u64()), (Some(2), Some(2), Some(1)));
        assert!(r.json["Resources"][0].get("title").is_none(), "attributes narrows the answer");
        scim_error(&dir.get("/Users?filter=userName%20zz%20%22x%22").await, 400, Some("invalidFilter"));

        // PUT replaces the resource; the profile follows.
        let r = dir
            .call(
                reqwest::Method::PUT,
                &format!("/Users/{alan}"),
                Some(json!({"userName": "alan@acme.example", "displayName": "A. M. Turing", "emails": [{"value": "alan.turing@acme.example", "primary": true}]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["displayName"], "A. M. Turing");
        assert!(member_emails(&owner, org_id).await.contains(&"alan.turing@acme.example".to_owned()));

        // Entra's dialect: capitalised ops, a string boolean, a filtered path.
        let r = dir
            .patch(&id, json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "grace@home.example"}
            ]))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["active"], false);
        assert_eq!(r.json["emails"][1], json!({"type": "home", "value": "grace@home.example"}));
        assert!(!member_emails(&owner, org_id).await.contains(&"grace@acme.example".to_owned()), "deactivated: out of the organization");
        let r = dir.get("/Users?filter=active%20eq%20false").await;
        assert_eq!(r.json["Resources"][0]["id"], id.as_str());
        // Okta's dialect: a pathless replace.
        let r = dir.patch(&id, json!([{"op": "replace", "value": {"active": true, "name": {"givenName": "Amazing Grace"}}}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json["name"], json!({"givenName": "Amazing Grace", "familyName": "Hopper"}));
        assert!(member_emails(&owner, org_id).await.contains(&"grace@acme.example".to_owned()), "reactivated: back in");
        scim_error(&dir.patch(&id, json!([{"op": "replace", "path": "id", "value": "forged"}])).await, 400, Some("mutability"));
        scim_error(&dir.patch(&id, json!([{"op": "remove"}])).await, 400, Some("noTarget"));

        let r = dir.call(reqwest::Method::DELETE, &format!("/Users/{id}"), None).await;
        assert_eq!(r.status, 204, "{}", r.text);
        scim_error(&dir.get(&format!("/Users/{id}")).await, 404, None);
        assert_eq!(member_emails(&owner, org_id).await, sorted([owner_email.clone(), "alan.turing@acme.example".to_owned()]));

        let r = owner.get(&format!("/organization/audit-log?organizationId={org_id}")).await;
        let actions: Vec<&str> = r.json["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        for action in ["scim.token.generated", "scim.user.provisioned", "scim.user.deprovisioned", "scim.user.deleted", "member.remove"] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
    }

    async fn deprovisioning_ends_the_users_sessions_and_only_their_seat_in_this_organization(app: TestApp) {
        let (owner, _) = app.new_user("scimdep").await;
        let org = orgs::create(&owner, "scimdep").await;
        let org_id = org["id"].as_str().unwrap();
        let (employee, email, _) = orgs::add_member(&app, &owner, org_id, "member", "scimemp").await;
        // The employee also belongs to another organization, which the directory cannot touch.
        let (other_owner, _) = app.new_user("scimother").await;
        let other = orgs::create(&other_owner, "scimother").await;
        let other_id = other["id"].as_str().unwrap();
        let invite = other_owner.post("/organization/invite-member", &json!({"email": email, "role": "member", "organizationId": other_id})).await;
        let r = employee.post("/organization/accept-invitation", &json!({"invitationId": invite.json["id"]})).await;
        assert_eq!(r.status, 200, "{}", r.text);

        let dir = Directory { browser: &app.browser(), token: token(&owner, "okta-dep", org_id).await };
        // A member of the organization is linked, not duplicated.
        let r = dir.create(json!({"userName": email, "emails": [{"value": email, "primary": true}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.json["id"].as_str().unwrap().to_owned();
        assert_eq!(id, employee.session().await["user"]["id"].as_str().unwrap());
        // Their address is shared with the other organization: this directory cannot move it
        // out of a domain it has not verified.
        let moved = json!({"userName": email, "emails": [{"value": "moved@elsewhere.example", "primary": true}]});
        let r = dir.call(reqwest::Method::PUT, &format!("/Users/{id}"), Some(moved)).await;
        scim_error(&r, 400, Some("mutability"));
        assert_eq!(employee.session().await["user"]["email"], email.as_str());
        // A rename reaches the person's session at once, not when a cached copy expires.
        let r = dir.patch(&id, json!([{"op": "replace", "path": "displayName", "value": "Renamed By Directory"}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(employee.session().await["user"]["name"], "Renamed By Directory");

        let r = dir.patch(&id, json!([{"op": "replace", "value": {"active": false}}])).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(employee.get("/get-session").await.json, Value::Null, "every session ended");
        assert!(!member_emails(&owner, org_id).await.contains(&email));
        assert!(member_emails(&other_owner, other_id).await.contains(&email), "the other organization keeps its member");
        // The account itself remains: the person can sign in again, just not into this organization.
        let again = app.browser();
        let r = again.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = again.post("/organization/set-active", &json!({"organizationId": org_id})).await;
        assert_eq!(r.status, 403, "{}", r.text);

        // The organization's only owner is never deprovisioned.
        let owner_id = owner.session().await["user"]["id"].as_str().unwrap().to_owned();
        let owner_email = owner.session().await["user"]["email"].as_str().unwrap().to_owned();
        let r = dir.create(json!({"userName": owner_email})).await;
        assert_eq!(r.json["id"], owner_id.as_str(), "{}", r.text);
        scim_error(&dir.patch(&owner_id, json!([{"op": "replace", "path": "active", "value": false}])).await, 400, Some("mutability"));
        assert_eq!(owner.session().await["user"]["id"], owner_id.as_str(), "the owner is still signed in");
    }

    async fn a_token_reaches_only_its_own_organization_and_only_owners_and_admins_mint_one(app: TestApp) {
        let (owner, _) = app.new_user("scimt").await;
        let org = orgs::create(&owner, "scimt").await;
        let org_id = org["id"].as_str().unwrap();
        let (member, _, _) = orgs::add_member(&app, &owner, org_id, "member", "scimtm").await;
        let r = member.post("/scim/generate-token", &json!({"providerId": "x-member", "organizationId": org_id})).await;
        assert_eq!(r.status, 403, "members mint no token: {}", r.text);
        let (admin, _, _) = orgs::add_member(&app, &owner, org_id, "admin", "scimta").await;
        let ours = token(&admin, "ours", org_id).await;
        let r = owner.get("/scim/list-provider-connections").await;
        assert_eq!(r.json["providers"][0]["providerId"], "ours", "{}", r.text);
        assert_eq!(r.json["providers"][0]["organizationId"], org_id);

        // Another organization: its token and its owner see nothing of ours.
        let (stranger, stranger_email) = app.new_user("scimstranger").await;
        let theirs_org = orgs::create(&stranger, "scimtheirs").await;
        let theirs_id = theirs_org["id"].as_str().unwrap();
        let theirs = Directory { browser: &app.browser(), token: token(&stranger, "theirs", theirs_id).await };
        let dir = Directory { browser: &app.browser(), token: ours.clone() };
        let r = dir.create(json!({"userName": "ours@acme.example"})).await;
        let our_user = r.json["id"].as_str().unwrap().to_owned();
        scim_error(&theirs.get(&format!("/Users/{our_user}")).await, 404, None);
        assert_eq!(theirs.get("/Users").await.json["totalResults"], 0);
        for (method, body) in [(reqwest::Method::PUT, Some(json!({"userName": "stolen"}))), (reqwest::Method::DELETE, None)] {
            scim_error(&theirs.call(method, &format!("/Users/{our_user}"), body).await, 404, None);
        }
        scim_error(&theirs.patch(&our_user, json!([{"op": "replace", "path": "active", "value": false}])).await, 404, None);
        assert_eq!(dir.get(&format!("/Users/{our_user}")).await.json["userName"], "ours@acme.example", "unchanged");
        // Someone outside the organization cannot be taken over by their address.
        scim_error(&dir.create(json!({"userName": stranger_email})).await, 409, Some("uniqueness"));
        assert!(stranger.session().await["session"].is_object(), "the stranger's session is untouched");
        for (path, body) in [
            ("/scim/generate-token", json!({"providerId": "ours", "organizationId": org_id})),
            ("/scim/generate-token", json!({"providerId": "ours", "organizationId": theirs_id})),
            ("/scim/delete-provider-connection", json!({"providerId": "ours"})),
        ] {
            let r = stranger.post(path, &body).await;
            assert_eq!(r.status, 403, "{path} {body}: {}", r.text);
        }
        assert_eq!(stranger.get("/scim/get-provider-connection?providerId=ours").await.status, 403);
        assert_eq!(dir.get("/Users").await.json["totalResults"], 1, "the token still works");

        // Bad tokens, a rotated token and a deleted connection are all 401.
        for bad in ["", "not-base64!", "b3VyczpvdXJz", &format!("{ours}x")] {
            let forged = Directory { browser: &app.browser(), token: bad.to_owned() };
            scim_error(&forged.get("/Users").await, 401, None);
        }
        let rotated = token(&owner, "ours", org_id).await;
        scim_error(&dir.get("/Users").await, 401, None);
        let dir = Directory { browser: &app.browser(), token: rotated };
        assert_eq!(dir.get("/Users").await.status, 200);
        let r = owner.post("/scim/delete-provider-connection", &json!({"providerId": "ours"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        scim_error(&dir.get("/Users").await, 401, None);
    }

    async fn groups_give_roles_through_the_connections_mapping_and_never_the_owner_role(app: TestApp) {
        let (owner, owner_email) = app.new_user("scimgrp").await;
        let org = orgs::create(&owner, "scimgrp").await;
        let org_id = org["id"].as_str().unwrap();
        let dir = Directory { browser: &app.browser(), token: token(&owner, "okta-groups", org_id).await };
        // The mapping an owner sets with sso/provisioning on the SSO connection of the same
        // name; `owner` is written straight into the table here, which the API refuses, to show
        // that no mapping grants it anyway.
        let db = app.db().await;
        use sea_orm::ConnectionTrait as _;
        db.execute_unprepared(&format!(
            r#"INSERT INTO "castellan_sso_provisioning" ("providerId", "defaultRole", "roleMapping", "allowIdpInitiated", "updatedAt") VALUES ('okta-groups', 'member', '{{"Engineering":"admin","Founders":"owner"}}', {}, '{}')"#,
            if app.storage.backend == castellan_e2e::Backend::Sqlite { "0" } else { "false" },
            chrono::Utc::now().to_rfc3339()
        ))
        .await
        .unwrap();
        let mut ids = Vec::new();
        for name in ["ada", "bob"] {
            let r = dir.create(json!({"userName": format!("{name}@grp.example")})).await;
            assert_eq!(r.status, 201, "{}", r.text);
            ids.push(r.json["id"].as_str().unwrap().to_owned());
        }
        let (ada, bob) = (ids[0].clone(), ids[1].clone());
        assert_eq!(roles(&owner, org_id).await["ada@grp.example"], "member");

        let r = dir
            .call(reqwest::Method::POST, "/Groups", Some(json!({"displayName": "Engineering", "members": [{"value": ada}]})))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let engineering = r.json["id"].as_str().unwrap().to_owned();
        assert_eq!(r.json["members"], json!([{"value": ada}]));
        assert_eq!(roles(&owner, org_id).await["ada@grp.example"], "admin", "the group maps to admin");
        scim_error(
            &dir.call(reqwest::Method::POST, "/Groups", Some(json!({"displayName": "engineering"}))).await,
            409,
            Some("uniqueness"),
        );
        scim_error(
            &dir.call(reqwest::Method::POST, "/Groups", Some(json!({"displayName": "Strangers", "members": [{"value": "not-a-user"}]}))).await,
            400,
            Some("invalidValue"),
        );

        // Entra adds a member with a value list; Okta removes one by filter.
        let path = format!("/Groups/{engineering}");
        let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members", "value": [{"value": bob}]}]});
        assert_eq!(dir.call(reqwest::Method::PATCH, &path, Some(add)).await.status, 200);
        let remove = json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]});
        let r = dir.call(reqwest::Method::PATCH, &path, Some(remove)).await;
        assert_eq!(r.json["members"], json!([{"value": bob}]), "{}", r.text);
        let now = roles(&owner, org_id).await;
        assert_eq!((now["ada@grp.example"].as_str(), now["bob@grp.example"].as_str()), ("member", "admin"));
        let r = dir.get("/Groups?filter=displayName%20eq%20%22engineering%22").await;
        assert_eq!(r.json["Resources"][0]["id"], engineering.as_str(), "a case-insensitive lookup by name: {}", r.text);
        assert_eq!(dir.get("/Groups?filter=displayName%20eq%20%22Founders%22").await.json["totalResults"], 0);
        let r = dir.get(&format!("/Groups?filter=members.value%20eq%20%22{bob}%22")).await;
        assert_eq!((r.json["totalResults"].as_u64(), r.json["Resources"][0]["displayName"].as_str()), (Some(1), Some("Engineering")));

        // A group that maps to `owner` grants nothing beyond the default role.
        let r = dir
            .call(reqwest::Method::POST, "/Groups", Some(json!({"displayName": "Founders", "members": [{"value": ada}]})))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let now = roles(&owner, org_id).await;
        assert_eq!(now["ada@grp.example"], "member", "no directory makes an owner");
        assert_eq!(now[&owner_email], "owner");

        // The owner's own role is never changed by a group.
        let r = dir.create(json!({"userName": owner_email.clone()})).await;
        let owner_scim = r.json["id"].as_str().unwrap().to_owned();
        let add = json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": owner_scim}]}]});
        assert_eq!(dir.call(reqwest::Method::PATCH, &path, Some(add)).await.status, 200);
        assert_eq!(roles(&owner, org_id).await[&owner_email], "owner");

        // Deleting the group takes its roles away; other organizations' tokens never see it.
        let (stranger, _) = app.new_user("scimgrpx").await;
        let theirs = orgs::create(&stranger, "scimgrpx").await;
        let other = Directory { browser: &app.browser(), token: token(&stranger, "theirs-grp", theirs["id"].as_str().unwrap()).await };
        scim_error(&other.get(&path).await, 404, None);
        scim_error(&other.call(reqwest::Method::DELETE, &path, None).await, 404, None);
        assert_eq!(other.get("/Groups").await.json["totalResults"], 0);
        assert_eq!(dir.call(reqwest::Method::DELETE, &path, None).await.status, 204);
        assert_eq!(roles(&owner, org_id).await["bob@grp.example"], "member");
        scim_error(&dir.get(&path).await, 404, None);
    }

    async fn the_scim2_tester_compliance_checker_finds_no_failure(app: TestApp) {
        let (owner, _) = app.new_user("scimrfc").await;
        let org = orgs::create(&owner, "scimrfc").await;
        let token = token(&owner, "compliance", org["id"].as_str().unwrap()).await;
        let requirements = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scim/requirements.txt");
        let Some(venv) = tokio::task::spawn_blocking(move || {
            castellan_e2e::python_venv("scim2-tester-venv", &requirements, "the SCIM compliance test")
        })
        .await
        .unwrap() else {
            return;
        };
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scim/compliance.py");
        let base = format!("{}/scim/v2", app.auth_url);
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(venv.join("bin/python"))
                .arg(script)
                .args([&base, &token])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let last = report.lines().last().unwrap_or_default();
        assert!(last.ends_with(" 0 failures") && out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
        let checks: usize = last.split(' ').next().unwrap().parse().unwrap();
        assert!(checks >= 80, "the checker ran on users and groups: {report}");
        assert!(!report.contains("SKIPPED"), "every check ran: {report}");
    }
}
