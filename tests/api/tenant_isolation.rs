//! Cross-tenant isolation over every org-scoped endpoint: an owner and a member of organization
//! A act on organization B's ids. Every attempt is refused with Better Auth's 4xx denial, no
//! response carries B's data, and B is unchanged afterwards.

use castellan_e2e::{Browser, orgs};
use serde_json::{Value, json};

pub(crate) struct TenantB {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) slug: String,
    member_id: String,
    member_user: String,
    pub(crate) member_email: String,
    invitation: String,
    team: String,
}

/// (method, path, body) attempts against B, phrased with B's ids.
pub(crate) fn attacks(b: &TenantB, a_member_user: &str) -> Vec<(&'static str, String, Value)> {
    let id = &b.id;
    vec![
        (
            "GET",
            format!("/organization/get-full-organization?organizationId={id}"),
            Value::Null,
        ),
        (
            "GET",
            format!("/organization/get-full-organization?organizationSlug={}", b.slug),
            Value::Null,
        ),
        (
            "POST",
            "/organization/update".into(),
            json!({"organizationId": id, "data": {"name": "pwned"}}),
        ),
        (
            "POST",
            "/organization/delete".into(),
            json!({"organizationId": id}),
        ),
        (
            "POST",
            "/organization/set-active".into(),
            json!({"organizationId": id}),
        ),
        (
            "GET",
            format!("/organization/list-members?organizationId={id}"),
            Value::Null,
        ),
        (
            "POST",
            "/organization/remove-member".into(),
            json!({"organizationId": id, "memberIdOrEmail": b.member_id}),
        ),
        (
            "POST",
            "/organization/remove-member".into(),
            json!({"memberIdOrEmail": b.member_id}),
        ),
        (
            "POST",
            "/organization/remove-member".into(),
            json!({"memberIdOrEmail": b.member_email}),
        ),
        (
            "POST",
            "/organization/update-member-role".into(),
            json!({"organizationId": id, "memberId": b.member_id, "role": "admin"}),
        ),
        (
            "POST",
            "/organization/update-member-role".into(),
            json!({"memberId": b.member_id, "role": "admin"}),
        ),
        (
            "GET",
            format!("/organization/get-active-member-role?organizationId={id}"),
            Value::Null,
        ),
        (
            "GET",
            format!(
                "/organization/get-active-member-role?organizationId={id}&userId={}",
                b.member_user
            ),
            Value::Null,
        ),
        (
            "POST",
            "/organization/leave".into(),
            json!({"organizationId": id}),
        ),
        (
            "POST",
            "/organization/has-permission".into(),
            json!({"organizationId": id, "permissions": {"member": ["delete"]}}),
        ),
        (
            "POST",
            "/organization/invite-member".into(),
            json!({"organizationId": id, "email": "spy@e2e.test", "role": "member"}),
        ),
        (
            "POST",
            "/organization/cancel-invitation".into(),
            json!({"invitationId": b.invitation}),
        ),
        (
            "POST",
            "/organization/accept-invitation".into(),
            json!({"invitationId": b.invitation}),
        ),
        (
            "POST",
            "/organization/reject-invitation".into(),
            json!({"invitationId": b.invitation}),
        ),
        (
            "GET",
            format!("/organization/get-invitation?id={}", b.invitation),
            Value::Null,
        ),
        (
            "GET",
            format!("/organization/list-invitations?organizationId={id}"),
            Value::Null,
        ),
        (
            "POST",
            "/organization/create-team".into(),
            json!({"organizationId": id, "name": "spies"}),
        ),
        (
            "GET",
            format!("/organization/list-teams?organizationId={id}"),
            Value::Null,
        ),
        (
            "POST",
            "/organization/update-team".into(),
            json!({"teamId": b.team, "data": {"name": "pwned", "organizationId": id}}),
        ),
        (
            "POST",
            "/organization/update-team".into(),
            json!({"teamId": b.team, "data": {"name": "pwned"}}),
        ),
        (
            "POST",
            "/organization/remove-team".into(),
            json!({"teamId": b.team, "organizationId": id}),
        ),
        (
            "POST",
            "/organization/remove-team".into(),
            json!({"teamId": b.team}),
        ),
        (
            "POST",
            "/organization/set-active-team".into(),
            json!({"teamId": b.team}),
        ),
        (
            "GET",
            format!("/organization/list-user-teams?organizationId={id}"),
            Value::Null,
        ),
        (
            "POST",
            "/organization/add-team-member".into(),
            json!({"teamId": b.team, "userId": a_member_user, "organizationId": id}),
        ),
        (
            "POST",
            "/organization/add-team-member".into(),
            json!({"teamId": b.team, "userId": a_member_user}),
        ),
        (
            "POST",
            "/organization/remove-team-member".into(),
            json!({"teamId": b.team, "userId": b.member_user}),
        ),
        (
            "GET",
            format!("/organization/list-team-members?teamId={}", b.team),
            Value::Null,
        ),
        (
            "POST",
            "/organization/create-role".into(),
            json!({"organizationId": id, "role": "spy", "permission": {"ac": ["read"]}}),
        ),
        (
            "GET",
            format!("/organization/list-roles?organizationId={id}"),
            Value::Null,
        ),
        (
            "GET",
            format!("/organization/get-role?organizationId={id}&roleName=auditor"),
            Value::Null,
        ),
        (
            "GET",
            "/organization/get-role?roleName=auditor".into(),
            Value::Null,
        ),
        (
            "POST",
            "/organization/update-role".into(),
            json!({"organizationId": id, "roleName": "auditor", "data": {"permission": {"ac": ["read", "create"]}}}),
        ),
        (
            "POST",
            "/organization/update-role".into(),
            json!({"roleName": "auditor", "data": {"permission": {"ac": ["read", "create"]}}}),
        ),
        (
            "POST",
            "/organization/delete-role".into(),
            json!({"organizationId": id, "roleName": "auditor"}),
        ),
        (
            "POST",
            "/organization/delete-role".into(),
            json!({"roleName": "auditor"}),
        ),
        (
            "GET",
            format!("/organization/audit-log?organizationId={id}"),
            Value::Null,
        ),
        (
            "GET",
            format!("/organization/audit-log/verify?organizationId={id}"),
            Value::Null,
        ),
    ]
}

pub(crate) async fn attempt(b: &Browser, method: &str, path: &str, body: &Value) -> castellan_e2e::Response {
    if method == "GET" {
        b.get(path).await
    } else {
        b.post(path, body).await
    }
}

/// Tenant B, with a member, a pending invitation, a team and a custom role; its owner's browser.
pub(crate) async fn tenant_b(app: &castellan_e2e::TestApp) -> (Browser, TenantB) {
    let (b_owner, _) = app.new_user("bowner").await;
    let org_b = orgs::create(&b_owner, "tenantb").await;
    let b_id = org_b["id"].as_str().unwrap().to_owned();
    let (_, member_email, b_row) = orgs::add_member(app, &b_owner, &b_id, "member", "bmember").await;
    let inv = b_owner
        .post(
            "/organization/invite-member",
            &json!({"email": "pending@e2e.test", "role": "member", "organizationId": b_id}),
        )
        .await;
    let team = b_owner
        .post(
            "/organization/create-team",
            &json!({"name": "B secret team", "organizationId": b_id}),
        )
        .await;
    let role = b_owner
        .post(
            "/organization/create-role",
            &json!({"organizationId": b_id, "role": "auditor", "permission": {"ac": ["read"]}}),
        )
        .await;
    assert_eq!((inv.status, team.status, role.status), (200, 200, 200));
    let tenant = TenantB {
        id: b_id,
        name: org_b["name"].as_str().unwrap().to_owned(),
        slug: org_b["slug"].as_str().unwrap().to_owned(),
        member_id: b_row["id"].as_str().unwrap().to_owned(),
        member_user: b_row["userId"].as_str().unwrap().to_owned(),
        member_email,
        invitation: inv.json["id"].as_str().unwrap().to_owned(),
        team: team.json["id"].as_str().unwrap().to_owned(),
    };
    (b_owner, tenant)
}

/// Ids of the same shape as a real tenant's, naming nothing.
fn made_up_tenant() -> TenantB {
    let id = || castellan_e2e::unique("x").chars().take(32).collect::<String>();
    TenantB {
        id: id(),
        name: "Nobody".into(),
        slug: castellan_e2e::unique("nobody-"),
        member_id: id(),
        member_user: id(),
        member_email: format!("{}@e2e.test", castellan_e2e::unique("nobody")),
        invitation: id(),
        team: id(),
    }
}

/// What an answer tells its reader: status, code and message.
fn answer(r: &castellan_e2e::Response) -> (u16, Value, Value) {
    (r.status, r.json["code"].clone(), r.json["message"].clone())
}

both_backends! {
    async fn outsiders_get_the_same_answer_for_real_and_made_up_ids(app: TestApp) {
        let (_b_owner, real) = tenant_b(&app).await;
        let fake = made_up_tenant();

        // Outsiders: an owner and a member of A (A active), and a user in no organization.
        let (a_owner, _) = app.new_user("aowner").await;
        let org_a = orgs::create(&a_owner, "tenanta").await;
        let a_id = org_a["id"].as_str().unwrap().to_owned();
        let (a_member, _, a_row) = orgs::add_member(&app, &a_owner, &a_id, "member", "amember").await;
        let a_member_user = a_row["userId"].as_str().unwrap().to_owned();
        let (loner, _) = app.new_user("loner").await;

        let mut differences = Vec::new();
        for (who, attacker) in [("A owner", &a_owner), ("A member", &a_member), ("no-org user", &loner)] {
            let pairs = attacks(&real, &a_member_user).into_iter().zip(attacks(&fake, &a_member_user));
            for ((method, real_path, real_body), (_, fake_path, fake_body)) in pairs {
                let on_real = attempt(attacker, method, &real_path, &real_body).await;
                let on_fake = attempt(attacker, method, &fake_path, &fake_body).await;
                if answer(&on_real) != answer(&on_fake) {
                    differences.push(format!("{who}: {method} {real_path} {real_body}\n  real: {}\n  fake: {}", on_real.text, on_fake.text));
                }
            }
        }
        assert!(differences.is_empty(), "{} existence oracles:\n{}", differences.len(), differences.join("\n"));
    }

    async fn members_of_one_org_cannot_reach_another(app: TestApp) {
        let (b_owner, b) = tenant_b(&app).await;
        let b_id = b.id.clone();
        let before = b_owner.get(&format!("/organization/get-full-organization?organizationId={b_id}")).await.json;
        let roles_before = b_owner.get(&format!("/organization/list-roles?organizationId={b_id}")).await.json;

        // Tenant A: an owner and a member, each with A active.
        let (a_owner, _) = app.new_user("aowner").await;
        let org_a = orgs::create(&a_owner, "tenanta").await;
        let a_id = org_a["id"].as_str().unwrap().to_owned();
        let (a_member, _, a_row) = orgs::add_member(&app, &a_owner, &a_id, "member", "amember").await;
        let a_member_user = a_row["userId"].as_str().unwrap().to_owned();

        for attacker in [&a_owner, &a_member] {
            for (method, path, body) in attacks(&b, &a_member_user) {
                let r = attempt(attacker, method, &path, &body).await;
                assert!((400..500).contains(&r.status), "{method} {path} {body} was allowed: {} {}", r.status, r.text);
                for secret in [b.name.as_str(), b.slug.as_str(), b.member_email.as_str(), "B secret team", "pending@e2e.test"] {
                    assert!(!r.text.contains(secret), "{method} {path} leaked {secret:?}: {}", r.text);
                }
            }
        }

        // B is exactly as it was.
        let after = b_owner.get(&format!("/organization/get-full-organization?organizationId={b_id}")).await.json;
        assert_eq!(after, before);
        assert_eq!(b_owner.get(&format!("/organization/list-roles?organizationId={b_id}")).await.json, roles_before);
        // And A's people still hold only A.
        let listed = a_owner.get("/organization/list").await.json;
        assert_eq!(listed.as_array().unwrap().len(), 1);
        assert_eq!(listed[0]["id"], a_id.as_str());
    }

    async fn concurrent_accepts_of_one_invitation_give_one_membership(app: TestApp) {
        let (owner, _) = app.new_user("race").await;
        let org = orgs::create(&owner, "race").await;
        let id = org["id"].as_str().unwrap();
        let (first, email) = app.new_user("racer").await;
        let second = app.browser();
        second.post("/sign-in/email", &json!({"email": email, "password": castellan_e2e::PASSWORD})).await;
        let inv = owner.post("/organization/invite-member", &json!({"email": email, "role": "member", "organizationId": id})).await;
        let body = json!({"invitationId": inv.json["id"]});
        let (r1, r2) = tokio::join!(
            first.post("/organization/accept-invitation", &body),
            second.post("/organization/accept-invitation", &body)
        );
        let mut statuses = [r1.status, r2.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400]);
        let members = owner.get(&format!("/organization/list-members?organizationId={id}")).await;
        assert_eq!(members.json["total"], 2);
    }

    async fn two_owners_demoting_each_other_leave_an_owner(app: TestApp) {
        for round in 0..3 {
            let (o1, _) = app.new_user(&format!("own{round}a")).await;
            let org = orgs::create(&o1, &format!("owners{round}")).await;
            let id = org["id"].as_str().unwrap().to_owned();
            let o1_member = org["members"][0]["id"].clone();
            let (o2, _, o2_row) = orgs::add_member(&app, &o1, &id, "owner", &format!("own{round}b")).await;
            let (d1, d2) = (
                json!({"organizationId": id, "memberId": o2_row["id"], "role": "member"}),
                json!({"organizationId": id, "memberId": o1_member, "role": "member"}),
            );
            let (r1, r2) = tokio::join!(
                o1.post("/organization/update-member-role", &d1),
                o2.post("/organization/update-member-role", &d2)
            );
            let members = o1.get(&format!("/organization/list-members?organizationId={id}")).await.json;
            let members = if members["members"].is_array() { members } else { o2.get(&format!("/organization/list-members?organizationId={id}")).await.json };
            let owners = members["members"].as_array().unwrap().iter().filter(|m| m["role"] == "owner").count();
            assert!(owners >= 1, "round {round}: no owner left ({} / {})", r1.text, r2.text);
            assert!(r1.status == 200 || r2.status == 200 || owners == 2, "round {round}: {} {}", r1.text, r2.text);
        }
    }
}
