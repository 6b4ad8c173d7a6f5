//! Organizations end to end: the lifecycle, roles, teams, custom roles and the audit log.

use castellan_e2e::orgs;
use serde_json::{Value, json};

both_backends! {
    async fn create_list_update_delete(app: TestApp) {
        let (owner, email) = app.new_user("orgowner").await;
        let org = orgs::create(&owner, "life").await;
        let id = org["id"].as_str().unwrap().to_owned();
        assert_eq!(org["members"][0]["role"], "owner");
        assert_eq!(owner.session().await["session"]["activeOrganizationId"], id.as_str());
        let teams = owner.get(&format!("/organization/list-teams?organizationId={id}")).await;
        assert_eq!(teams.json.as_array().unwrap().len(), 1, "the default team");
        assert_eq!(teams.json[0]["name"], org["name"]);

        let r = owner.post("/organization/update", &json!({"organizationId": id, "data": {"name": "Renamed", "metadata": {"tier": "gold"}}})).await;
        assert_eq!(r.json["name"], "Renamed");
        assert_eq!(r.json["metadata"], json!({"tier": "gold"}));
        let list = owner.get("/organization/list").await;
        assert_eq!(list.json[0]["metadata"], "{\"tier\":\"gold\"}", "reads return the stored JSON text");

        let one = owner.get(&format!("/organization/get-organization?organizationId={id}")).await;
        assert_eq!((one.json["name"].clone(), one.json.get("members")), (json!("Renamed"), None));
        let full = owner.get(&format!("/organization/get-full-organization?organizationId={id}")).await;
        assert_eq!(full.json["members"][0]["user"]["email"], email.as_str());

        let del = owner.post("/organization/delete", &json!({"organizationId": id})).await;
        assert_eq!(del.json["id"], id.as_str());
        assert_eq!(owner.get("/organization/list").await.json, json!([]));
        assert_eq!(owner.session().await["session"]["activeOrganizationId"], Value::Null);
    }

    async fn members_roles_and_last_owner(app: TestApp) {
        let (owner, _) = app.new_user("ro").await;
        let org = orgs::create(&owner, "roles").await;
        let id = org["id"].as_str().unwrap();
        let owner_member_id = org["members"][0]["id"].as_str().unwrap();
        let (admin, _, admin_row) = orgs::add_member(&app, &owner, id, "admin", "adm").await;
        let (plain, plain_email, _) = orgs::add_member(&app, &owner, id, "member", "mem").await;

        // An admin cannot touch the owner or grant ownership.
        let r = admin.post("/organization/update-member-role", &json!({"organizationId": id, "memberId": owner_member_id, "role": "member"})).await;
        assert_eq!((r.status, r.code()), (403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER"));
        let r = admin.post("/organization/update-member-role", &json!({"organizationId": id, "memberId": admin_row["id"], "role": "owner"})).await;
        assert_eq!(r.status, 403);
        // The last owner can neither leave nor demote themself.
        let r = owner.post("/organization/leave", &json!({"organizationId": id})).await;
        assert_eq!(r.code(), "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER");
        let r = owner.post("/organization/update-member-role", &json!({"organizationId": id, "memberId": owner_member_id, "role": "admin"})).await;
        assert_eq!(r.code(), "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER");
        // An admin removes a member; the member then sees no organization.
        let r = admin.post("/organization/remove-member", &json!({"organizationId": id, "memberIdOrEmail": plain_email})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(plain.get("/organization/list").await.json, json!([]));
        let r = plain.get(&format!("/organization/get-full-organization?organizationId={id}")).await;
        assert_eq!(r.status, 403, "a removed member is refused even though their session named the org");
        let members = owner.get(&format!("/organization/list-members?organizationId={id}")).await;
        assert_eq!(members.json["total"], 2);
        // The admin leaves.
        assert_eq!(admin.post("/organization/leave", &json!({"organizationId": id})).await.status, 200);
        assert_eq!(owner.get(&format!("/organization/list-members?organizationId={id}")).await.json["total"], 1);
    }

    async fn invitations_reject_cancel_and_resend(app: TestApp) {
        let (owner, _) = app.new_user("inv").await;
        let org = orgs::create(&owner, "invites").await;
        let id = org["id"].as_str().unwrap();
        let (invitee, email) = app.new_user("invitee").await;
        let inv = owner.post("/organization/invite-member", &json!({"email": email, "role": "member", "organizationId": id})).await;
        let mail = app.wait_mail("invitation", &email).await;
        assert_eq!(mail["invitationId"], inv.json["id"]);
        assert_eq!(mail["url"], format!("{}/accept-invitation/{}", app.origin, inv.json["id"].as_str().unwrap()));
        let got = invitee.get(&format!("/organization/get-invitation?id={}", inv.json["id"].as_str().unwrap())).await;
        assert_eq!(got.json["organizationName"], org["name"]);
        let rej = invitee.post("/organization/reject-invitation", &json!({"invitationId": inv.json["id"]})).await;
        assert_eq!((rej.json["invitation"]["status"].clone(), rej.json["member"].clone()), (json!("rejected"), Value::Null));

        let again = owner.post("/organization/invite-member", &json!({"email": email, "role": "admin", "organizationId": id})).await;
        let dup = owner.post("/organization/invite-member", &json!({"email": email, "role": "admin", "organizationId": id})).await;
        assert_eq!(dup.code(), "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION");
        let resent = owner.post("/organization/invite-member", &json!({"email": email, "role": "admin", "organizationId": id, "resend": true})).await;
        assert_eq!(resent.json["id"], again.json["id"]);
        let bad_role = owner.post("/organization/invite-member", &json!({"email": "x@e2e.test", "role": "emperor", "organizationId": id})).await;
        assert_eq!((bad_role.status, bad_role.json.clone()), (400, json!({"message": "ROLE_NOT_FOUND: emperor"})));
        let cancel = owner.post("/organization/cancel-invitation", &json!({"invitationId": again.json["id"]})).await;
        assert_eq!(cancel.json["status"], "canceled");
        let acc = invitee.post("/organization/accept-invitation", &json!({"invitationId": again.json["id"]})).await;
        assert_eq!(acc.code(), "INVITATION_NOT_FOUND");
    }

    async fn teams_lifecycle(app: TestApp) {
        let (owner, _) = app.new_user("teams").await;
        let org = orgs::create(&owner, "teams").await;
        let id = org["id"].as_str().unwrap();
        let (member, _, row) = orgs::add_member(&app, &owner, id, "member", "tm").await;
        let team = owner.post("/organization/create-team", &json!({"name": "Platform", "organizationId": id})).await;
        assert_eq!(team.status, 200, "{}", team.text);
        assert!(team.json.get("memberCount").is_none());
        let team_id = team.json["id"].as_str().unwrap();
        let add = owner.post("/organization/add-team-member", &json!({"teamId": team_id, "userId": row["userId"], "organizationId": id})).await;
        assert_eq!(add.json["userId"], row["userId"]);
        let again = owner.post("/organization/add-team-member", &json!({"teamId": team_id, "userId": row["userId"], "organizationId": id})).await;
        assert_eq!(again.json["id"], add.json["id"], "adding twice is idempotent");
        let denied = member.post("/organization/create-team", &json!({"name": "Nope", "organizationId": id})).await;
        assert_eq!(denied.code(), "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION");
        let set = member.post("/organization/set-active-team", &json!({"teamId": team_id})).await;
        assert_eq!(set.json["id"], team_id);
        assert_eq!(member.session().await["session"]["activeTeamId"], team_id);
        let seats = member.get("/organization/list-team-members").await;
        assert_eq!(seats.json.as_array().unwrap().len(), 1);
        let mine = member.get("/organization/list-user-teams").await;
        assert_eq!(mine.json.as_array().unwrap().len(), 1);
        let upd = owner.post("/organization/update-team", &json!({"teamId": team_id, "data": {"name": "Infra", "organizationId": id}})).await;
        assert_eq!(upd.json["name"], "Infra");
        let rm = owner.post("/organization/remove-team-member", &json!({"teamId": team_id, "userId": row["userId"], "organizationId": id})).await;
        assert_eq!(rm.json["message"], "Team member removed successfully.");
        let del = owner.post("/organization/remove-team", &json!({"teamId": team_id, "organizationId": id})).await;
        assert_eq!(del.json["message"], "Team removed successfully.");
    }

    async fn custom_roles_grant_through_casbin(app: TestApp) {
        let (owner, _) = app.new_user("dac").await;
        let org = orgs::create(&owner, "dac").await;
        let id = org["id"].as_str().unwrap();
        let (admin, _, _) = orgs::add_member(&app, &owner, id, "admin", "dacadm").await;
        let (member, _, row) = orgs::add_member(&app, &owner, id, "member", "dacmem").await;

        let created = owner.post("/organization/create-role", &json!({"organizationId": id, "role": "Recruiter", "permission": {"invitation": ["create"]}})).await;
        assert_eq!(created.status, 200, "{}", created.text);
        assert_eq!(created.json["roleData"]["role"], "recruiter", "names are lowercased");
        assert_eq!(created.json["roleData"]["permission"], json!({"invitation": ["create"]}));
        let taken = owner.post("/organization/create-role", &json!({"organizationId": id, "role": "admin", "permission": {}})).await;
        assert_eq!(taken.code(), "ROLE_NAME_IS_ALREADY_TAKEN");
        let too_much = admin.post("/organization/create-role", &json!({"organizationId": id, "role": "boss", "permission": {"organization": ["delete"]}})).await;
        assert_eq!((too_much.status, too_much.json["missingPermissions"].clone()), (403, json!(["organization:delete"])));
        let bad = owner.post("/organization/create-role", &json!({"organizationId": id, "role": "x", "permission": {"payroll": ["read"]}})).await;
        assert_eq!(bad.code(), "INVALID_RESOURCE");

        assert_eq!(can(&member, id, json!({"invitation": ["create"]})).await, false);
        let up = owner.post("/organization/update-member-role", &json!({"organizationId": id, "memberId": row["id"], "role": ["member", "recruiter"]})).await;
        assert_eq!(up.json["role"], "member,recruiter");
        assert_eq!(can(&member, id, json!({"invitation": ["create"]})).await, true);
        let inv = member.post("/organization/invite-member", &json!({"email": "hire@e2e.test", "role": "member", "organizationId": id})).await;
        assert_eq!(inv.status, 200, "the custom role lets the member invite: {}", inv.text);

        let upd = owner.post("/organization/update-role", &json!({"organizationId": id, "roleName": "recruiter", "data": {"permission": {"ac": ["read"]}}})).await;
        assert_eq!(upd.status, 200, "{}", upd.text);
        assert_eq!(can(&member, id, json!({"invitation": ["create"]})).await, false, "the change applies at once");
        let listed = member.get(&format!("/organization/list-roles?organizationId={id}")).await;
        assert_eq!(listed.json[0]["role"], "recruiter");
        let del = owner.post("/organization/delete-role", &json!({"organizationId": id, "roleName": "recruiter"})).await;
        assert_eq!(del.code(), "ROLE_IS_ASSIGNED_TO_MEMBERS");
        owner.post("/organization/update-member-role", &json!({"organizationId": id, "memberId": row["id"], "role": "member"})).await;
        let del = owner.post("/organization/delete-role", &json!({"organizationId": id, "roleName": "recruiter"})).await;
        assert_eq!(del.json, json!({"success": true}));
        let builtin = owner.post("/organization/delete-role", &json!({"organizationId": id, "roleName": "owner"})).await;
        assert_eq!(builtin.code(), "CANNOT_DELETE_A_PRE_DEFINED_ROLE");
    }

    async fn audit_log_is_chained_and_private_to_admins(app: TestApp) {
        let (owner, _) = app.new_user("audit").await;
        let org = orgs::create(&owner, "audit").await;
        let id = org["id"].as_str().unwrap();
        let (member, _, row) = orgs::add_member(&app, &owner, id, "member", "audm").await;
        owner.post("/organization/update-member-role", &json!({"organizationId": id, "memberId": row["id"], "role": "admin"})).await;

        let log = owner.get(&format!("/organization/audit-log?organizationId={id}")).await;
        assert_eq!(log.status, 200, "{}", log.text);
        let actions: Vec<&str> = log.json["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["member.role_update", "member.add", "invitation.create", "organization.create"]);
        let newest = &log.json["entries"][0];
        assert_eq!(newest["details"], json!({"from": "member", "to": "admin", "userId": row["userId"]}));
        assert_eq!(newest["ipAddress"], owner.ip.as_str());
        assert_eq!(newest["prevHash"], log.json["entries"][1]["hash"]);
        let verify = owner.get(&format!("/organization/audit-log/verify?organizationId={id}")).await;
        assert_eq!(verify.json, json!({"valid": true, "entries": 4, "brokenAtSeq": null}));

        // Now an admin, the member may read it; a plain member may not.
        assert_eq!(member.get(&format!("/organization/audit-log?organizationId={id}")).await.status, 200);
        let (plain, _, _) = orgs::add_member(&app, &owner, id, "member", "audp").await;
        let denied = plain.get(&format!("/organization/audit-log?organizationId={id}")).await;
        assert_eq!((denied.status, denied.code()), (403, "YOU_ARE_NOT_ALLOWED_TO_READ_THE_AUDIT_LOG"));

        use sea_orm::ConnectionTrait as _;
        app.db().await.execute_unprepared(r#"UPDATE "castellan_audit_log" SET "details" = '{"to":"owner"}' WHERE "seq" = 2"#).await.unwrap();
        let verify = owner.get(&format!("/organization/audit-log/verify?organizationId={id}")).await;
        assert_eq!((verify.json["valid"].clone(), verify.json["brokenAtSeq"].clone()), (json!(false), json!(2)));
    }
}

async fn can(b: &castellan_e2e::Browser, org_id: &str, permissions: Value) -> Value {
    let body = json!({"organizationId": org_id, "permissions": permissions});
    b.post("/organization/has-permission", &body).await.json["success"].clone()
}

mod paging {
    use castellan_e2e::{Backend, TestApp, orgs};

    /// Paging numbers are bounded before they reach SQL: huge values page past the end, junk is a
    /// validation error, never a crash.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extreme_paging_values_are_handled() {
        let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
        let (owner, _) = app.new_user("paging").await;
        let org = orgs::create(&owner, "paging").await;
        let id = org["id"].as_str().unwrap();
        let huge = u64::MAX;
        let r = owner
            .get(&format!(
                "/organization/list-members?organizationId={id}&limit={huge}&offset={huge}"
            ))
            .await;
        assert_eq!((r.status, r.json["total"].clone()), (200, serde_json::json!(1)));
        assert_eq!(r.json["members"], serde_json::json!([]));
        let r = owner
            .get(&format!(
                "/organization/list-members?organizationId={id}&limit=-1"
            ))
            .await;
        assert_eq!((r.status, r.code()), (400, "VALIDATION_ERROR"));
        let r = owner
            .get(&format!(
                "/organization/audit-log?organizationId={id}&offset={huge}"
            ))
            .await;
        assert_eq!(
            (r.status, r.json["entries"].clone()),
            (200, serde_json::json!([]))
        );
    }
}
