//! The real `policies/` files, asked a table of (role, resource, action) → allow/deny, plus
//! custom roles: stored through the adapter, scoped to their organization, re-adds harmless.

#![allow(clippy::unwrap_used, reason = "tests")]

use castellan_authz::{Authorizer, Statements};
use sea_orm::{EntityTrait, PaginatorTrait};

fn want(resource: &str, actions: &[&str]) -> Statements {
    [(
        resource.to_owned(),
        actions.iter().map(|a| (*a).to_owned()).collect(),
    )]
    .into()
}

async fn authorizer() -> (Authorizer, sea_orm::DatabaseConnection) {
    let db = castellan_data::connect("sqlite::memory:").await.unwrap();
    castellan_migrations::apply(&db).await.unwrap();
    (Authorizer::new(db.clone(), None, 16, 1000).unwrap(), db)
}

#[tokio::test]
async fn built_in_roles_match_better_auths_statements() {
    let (authz, _) = authorizer().await;
    // (role, resource, action, allowed)
    let table = [
        ("owner", "organization", "update", true),
        ("owner", "organization", "delete", true),
        ("owner", "member", "create", true),
        ("owner", "member", "update", true),
        ("owner", "member", "delete", true),
        ("owner", "invitation", "create", true),
        ("owner", "invitation", "cancel", true),
        ("owner", "team", "delete", true),
        ("owner", "ac", "create", true),
        ("admin", "organization", "update", true),
        ("admin", "organization", "delete", false),
        ("admin", "member", "delete", true),
        ("admin", "invitation", "create", true),
        ("admin", "team", "create", true),
        ("admin", "ac", "update", true),
        ("member", "organization", "update", false),
        ("member", "organization", "delete", false),
        ("member", "member", "create", false),
        ("member", "member", "delete", false),
        ("member", "invitation", "create", false),
        ("member", "invitation", "cancel", false),
        ("member", "team", "create", false),
        ("member", "ac", "read", true),
        ("member", "ac", "create", false),
        ("nobody", "ac", "read", false),
        ("owner", "audit", "read", true),
        ("admin", "audit", "read", true),
        ("member", "audit", "read", false),
        ("owner", "payroll", "read", false),
        ("owner", "member", "fly", false),
    ];
    for (role, resource, action, expected) in table {
        let got = authz
            .allows("org-1", &[role.to_owned()], &want(resource, &[action]))
            .await
            .unwrap();
        assert_eq!(got, expected, "{role} {resource}:{action}");
    }
}

#[tokio::test]
async fn any_one_role_must_grant_the_whole_request() {
    let (authz, _) = authorizer().await;
    let roles = vec!["member".to_owned(), "admin".to_owned()];
    assert!(
        authz
            .allows("o", &roles, &want("member", &["update", "delete"]))
            .await
            .unwrap()
    );
    let mixed: Statements = [
        ("organization".to_owned(), vec!["delete".to_owned()]),
        ("ac".to_owned(), vec!["read".to_owned()]),
    ]
    .into();
    assert!(
        !authz.allows("o", &roles, &mixed).await.unwrap(),
        "no single role holds both"
    );
    assert!(
        !authz.allows("o", &roles, &want("member", &[])).await.unwrap(),
        "an empty action list fails"
    );
    assert!(
        !authz.allows("o", &roles, &Statements::new()).await.unwrap(),
        "an empty request fails"
    );
}

#[tokio::test]
async fn custom_roles_are_scoped_to_their_organization() {
    let (authz, db) = authorizer().await;
    let grant = want("invitation", &["create", "cancel"]);
    authz.set_custom_role("org-a", "recruiter", &grant).await.unwrap();
    authz.set_custom_role("org-a", "recruiter", &grant).await.unwrap();
    let rows = castellan_data::entity::casbin_rule::Entity::find()
        .count(&db)
        .await
        .unwrap();
    assert_eq!(rows, 2, "re-adding a role does not duplicate its lines");

    let recruiter = vec!["recruiter".to_owned()];
    assert!(
        authz
            .allows("org-a", &recruiter, &want("invitation", &["create"]))
            .await
            .unwrap()
    );
    assert!(
        !authz
            .allows("org-a", &recruiter, &want("member", &["delete"]))
            .await
            .unwrap()
    );
    assert!(
        !authz
            .allows("org-b", &recruiter, &want("invitation", &["create"]))
            .await
            .unwrap(),
        "other orgs"
    );

    authz.remove_custom_role("org-a", "recruiter").await.unwrap();
    assert!(
        !authz
            .allows("org-a", &recruiter, &want("invitation", &["create"]))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_enforcer_cache_is_bounded() {
    let db = castellan_data::connect("sqlite::memory:").await.unwrap();
    castellan_migrations::apply(&db).await.unwrap();
    let authz = Authorizer::new(db, None, 3, 1000).unwrap();
    for i in 0..10 {
        authz
            .allows(
                &format!("org-{i}"),
                &["member".to_owned()],
                &want("ac", &["read"]),
            )
            .await
            .unwrap();
    }
    assert_eq!(authz.cached_orgs(), 3);
}

#[tokio::test]
async fn platform_admins_hold_better_auths_admin_statements() {
    let (authz, _) = authorizer().await;
    let admin = vec!["admin".to_owned()];
    let user = vec!["user".to_owned()];
    for (resource, action, expected) in [
        ("user", "list", true),
        ("user", "ban", true),
        ("user", "impersonate", true),
        ("user", "impersonate-admins", false),
        ("session", "revoke", true),
    ] {
        let got = authz
            .allows("platform", &admin, &want(resource, &[action]))
            .await
            .unwrap();
        assert_eq!(got, expected, "admin {resource}:{action}");
        assert!(
            !authz
                .allows("platform", &user, &want(resource, &[action]))
                .await
                .unwrap(),
            "user {resource}:{action}"
        );
    }
    // An organization's admin is not a platform admin.
    assert!(
        !authz
            .allows("org-1", &admin, &want("user", &["list"]))
            .await
            .unwrap()
    );
}
