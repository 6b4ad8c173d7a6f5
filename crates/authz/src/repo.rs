//! Organization-scoped persistence. Every function takes an [`OrgScope`] (the caller is a
//! member) or a [`Permit`] (casbin allowed the action), and filters by that organization, so
//! reaching another tenant's rows through these functions is impossible by construction.

use castellan_data::entity::{
    account, invitation, member, organization, organization_role, sso_provider, sso_provisioning, team,
    team_member, user,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use crate::grant::{
    Grant, InvitationCancel, InvitationCreate, MemberDelete, MemberUpdate, OrganizationDelete,
    OrganizationUpdate, RoleCreate, RoleDelete, RoleUpdate, SsoCreate, SsoDelete, SsoRead, SsoUpdate,
    TeamCreate, TeamDelete, TeamUpdate,
};
use crate::scope::{OrgScope, Permit};

/// The most rows one page returns.
pub const MAX_PAGE: u64 = 1_000;
/// Offsets beyond this are empty anyway; the bound keeps them inside SQL's signed integers.
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// The organization's members with their users, oldest first.
///
/// # Errors
/// Database failures.
pub async fn members_with_users(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    limit: u64,
    offset: u64,
) -> Result<(Vec<(member::Model, Option<user::Model>)>, u64), DbErr> {
    let query = member::Entity::find().filter(member::Column::OrganizationId.eq(scope.org_id()));
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_asc(member::Column::CreatedAt)
        .limit(limit.min(MAX_PAGE))
        .offset(offset.min(MAX_OFFSET))
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|m| m.user_id.clone()).collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let joined = rows
        .into_iter()
        .map(|m| {
            let u = users.iter().find(|u| u.id == m.user_id).cloned();
            (m, u)
        })
        .collect();
    Ok((joined, total))
}

/// One member of the scope's organization, by member id.
///
/// # Errors
/// Database failures.
pub async fn member_by_id(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> Result<Option<member::Model>, DbErr> {
    member::Entity::find_by_id(id.to_owned())
        .filter(member::Column::OrganizationId.eq(scope.org_id()))
        .one(db)
        .await
}

/// One member of the scope's organization, by user id or by the user's email.
///
/// # Errors
/// Database failures.
pub async fn member_by_user(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    user_id: Option<&str>,
    email: Option<&str>,
) -> Result<Option<member::Model>, DbErr> {
    let user_id = match (user_id, email) {
        (Some(id), _) => id.to_owned(),
        (None, Some(email)) => {
            match user::Entity::find()
                .filter(user::Column::Email.eq(email.to_lowercase()))
                .one(db)
                .await?
            {
                Some(u) => u.id,
                None => return Ok(None),
            }
        }
        (None, None) => return Ok(None),
    };
    member::Entity::find()
        .filter(member::Column::OrganizationId.eq(scope.org_id()))
        .filter(member::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// Members holding `role` (comma-aware).
///
/// # Errors
/// Database failures.
pub async fn members_with_role(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    role: &str,
) -> Result<Vec<member::Model>, DbErr> {
    let all = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(scope.org_id()))
        .all(db)
        .await?;
    Ok(all
        .into_iter()
        .filter(|m| crate::permissions::split_roles(&m.role).iter().any(|r| r == role))
        .collect())
}

/// Sets a member's role string. Needs `member:update`.
///
/// # Errors
/// Database failures.
pub async fn set_member_role(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, MemberUpdate>,
    target: member::Model,
    role: String,
) -> Result<member::Model, DbErr> {
    if target.organization_id != permit.org_id() {
        return Err(DbErr::RecordNotFound("member".into()));
    }
    let mut row: member::ActiveModel = target.into();
    row.role = Set(role);
    row.update(db).await
}

/// Deletes a member of the scope's organization and their seats in its teams. Callers check
/// `member:delete`, or that the member is the caller leaving.
///
/// # Errors
/// Database failures.
pub async fn remove_member(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    target: &member::Model,
) -> Result<(), DbErr> {
    if target.organization_id != scope.org_id() {
        return Err(DbErr::RecordNotFound("member".into()));
    }
    let teams: Vec<String> = team::Entity::find()
        .filter(team::Column::OrganizationId.eq(scope.org_id()))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    if !teams.is_empty() {
        team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.is_in(teams))
            .filter(team_member::Column::UserId.eq(&target.user_id))
            .exec(db)
            .await?;
    }
    member::Entity::delete_by_id(target.id.clone()).exec(db).await?;
    Ok(())
}

/// Every invitation of the organization (all statuses). Needs `invitation:create`, as in
/// Better Auth 1.7.25.
///
/// # Errors
/// Database failures.
pub async fn invitations(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
) -> Result<Vec<invitation::Model>, DbErr> {
    invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .order_by_asc(invitation::Column::CreatedAt)
        .all(db)
        .await
}

/// A pending, unexpired invitation of `email` to the organization.
///
/// # Errors
/// Database failures.
pub async fn pending_invitation_for(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Option<invitation::Model>, DbErr> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .filter(invitation::Column::Email.eq(email.to_lowercase()))
        .filter(invitation::Column::Status.eq("pending"))
        .all(db)
        .await?;
    Ok(rows.into_iter().find(|i| i.expires_at > now))
}

/// How many pending, unexpired invitations the organization has.
///
/// # Errors
/// Database failures.
pub async fn pending_invitation_count(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .filter(invitation::Column::Status.eq("pending"))
        .all(db)
        .await?;
    Ok(rows.into_iter().filter(|i| i.expires_at > now).count())
}

/// Creates an invitation. Needs `invitation:create`.
///
/// # Errors
/// Database failures.
pub async fn create_invitation(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    row: invitation::Model,
) -> Result<invitation::Model, DbErr> {
    let row = invitation::Model {
        organization_id: permit.org_id().to_owned(),
        ..row
    };
    let active: invitation::ActiveModel = row.clone().into();
    invitation::Entity::insert(active.reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// An invitation of the organization by id.
///
/// # Errors
/// Database failures.
pub async fn invitation_by_id(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> Result<Option<invitation::Model>, DbErr> {
    invitation::Entity::find_by_id(id.to_owned())
        .filter(invitation::Column::OrganizationId.eq(scope.org_id()))
        .one(db)
        .await
}

/// The organization's teams.
///
/// # Errors
/// Database failures.
pub async fn teams(db: &impl ConnectionTrait, scope: &OrgScope) -> Result<Vec<team::Model>, DbErr> {
    team::Entity::find()
        .filter(team::Column::OrganizationId.eq(scope.org_id()))
        .order_by_asc(team::Column::CreatedAt)
        .all(db)
        .await
}

/// A team of the organization.
///
/// # Errors
/// Database failures.
pub async fn team_by_id(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> Result<Option<team::Model>, DbErr> {
    team::Entity::find_by_id(id.to_owned())
        .filter(team::Column::OrganizationId.eq(scope.org_id()))
        .one(db)
        .await
}

/// The organization's custom roles.
///
/// # Errors
/// Database failures.
pub async fn custom_roles(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
) -> Result<Vec<organization_role::Model>, DbErr> {
    organization_role::Entity::find()
        .filter(organization_role::Column::OrganizationId.eq(scope.org_id()))
        .order_by_asc(organization_role::Column::CreatedAt)
        .all(db)
        .await
}

/// A custom role by name or id.
///
/// # Errors
/// Database failures.
pub async fn custom_role(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<Option<organization_role::Model>, DbErr> {
    let mut cond = Condition::all().add(organization_role::Column::OrganizationId.eq(scope.org_id()));
    match (name, id) {
        (Some(n), _) => cond = cond.add(organization_role::Column::Role.eq(n.to_lowercase())),
        (None, Some(i)) => cond = cond.add(organization_role::Column::Id.eq(i)),
        (None, None) => return Ok(None),
    }
    organization_role::Entity::find().filter(cond).one(db).await
}

/// The organization row itself, updated. Needs `organization:update`.
///
/// # Errors
/// Database failures.
pub async fn update_organization(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, OrganizationUpdate>,
    change: organization::ActiveModel,
) -> Result<organization::Model, DbErr> {
    let change = organization::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(permit.org_id().to_owned()),
        ..change
    };
    change.update(db).await
}

/// Deletes the organization and everything in it. Needs `organization:delete`.
///
/// # Errors
/// Database failures.
pub async fn delete_organization(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, OrganizationDelete>,
) -> Result<(), DbErr> {
    let org = permit.org_id().to_owned();
    let teams: Vec<String> = team::Entity::find()
        .filter(team::Column::OrganizationId.eq(&org))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    if !teams.is_empty() {
        team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.is_in(teams))
            .exec(db)
            .await?;
    }
    team::Entity::delete_many()
        .filter(team::Column::OrganizationId.eq(&org))
        .exec(db)
        .await?;
    member::Entity::delete_many()
        .filter(member::Column::OrganizationId.eq(&org))
        .exec(db)
        .await?;
    invitation::Entity::delete_many()
        .filter(invitation::Column::OrganizationId.eq(&org))
        .exec(db)
        .await?;
    organization_role::Entity::delete_many()
        .filter(organization_role::Column::OrganizationId.eq(&org))
        .exec(db)
        .await?;
    castellan_data::entity::casbin_rule::Entity::delete_many()
        .filter(castellan_data::entity::casbin_rule::Column::V1.eq(&org))
        .exec(db)
        .await?;
    organization::Entity::delete_by_id(org).exec(db).await?;
    Ok(())
}

/// Serialises changes to one organization's memberships: a no-op write on its row takes the
/// row lock on Postgres and the write lock on SQLite, so invariants checked afterwards in the
/// same transaction (at least one owner, the membership limit) cannot be raced.
///
/// # Errors
/// Database failures.
pub async fn lock_organization(db: &impl ConnectionTrait, scope: &OrgScope) -> Result<(), DbErr> {
    lock_organization_id(db, scope.org_id()).await
}

/// [`lock_organization`] for callers that hold an invitation rather than a membership.
///
/// # Errors
/// Database failures.
pub(crate) async fn lock_organization_id(db: &impl ConnectionTrait, org_id: &str) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => r#"UPDATE "organization" SET "id" = "id" WHERE "id" = $1"#,
        _ => r#"UPDATE "organization" SET "id" = "id" WHERE "id" = ?"#,
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [org_id.into()],
    ))
    .await?;
    Ok(())
}

/// Creates a team in the permit's organization. Needs `team:create`.
///
/// # Errors
/// Database failures.
pub async fn create_team(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, TeamCreate>,
    row: team::Model,
) -> Result<team::Model, DbErr> {
    let row = team::Model {
        organization_id: permit.org_id().to_owned(),
        ..row
    };
    team::Entity::insert(team::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Renames a team of the permit's organization. Needs `team:update`.
///
/// # Errors
/// Database failures; `RecordNotFound` for a team of another organization.
pub async fn rename_team(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, TeamUpdate>,
    team_id: &str,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<team::Model, DbErr> {
    let existing = team_by_id(db, permit.scope(), team_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("team".into()))?;
    let mut row: team::ActiveModel = existing.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    row.updated_at = Set(Some(now));
    row.update(db).await
}

/// Deletes a team of the permit's organization and its seats. Needs `team:delete`.
///
/// # Errors
/// Database failures.
pub async fn delete_team(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, TeamDelete>,
    team_id: &str,
) -> Result<bool, DbErr> {
    if team_by_id(db, permit.scope(), team_id).await?.is_none() {
        return Ok(false);
    }
    team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(team_id))
        .exec(db)
        .await?;
    team::Entity::delete_by_id(team_id.to_owned()).exec(db).await?;
    Ok(true)
}

/// The seats of a team of the scope's organization.
///
/// # Errors
/// Database failures.
pub async fn team_seats(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    team_id: &str,
) -> Result<Vec<team_member::Model>, DbErr> {
    if team_by_id(db, scope, team_id).await?.is_none() {
        return Ok(Vec::new());
    }
    team_member::Entity::find()
        .filter(team_member::Column::TeamId.eq(team_id))
        .all(db)
        .await
}

/// Whether `user_id` has a seat in a team of the scope's organization.
///
/// # Errors
/// Database failures.
pub async fn is_seated(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    team_id: &str,
    user_id: &str,
) -> Result<bool, DbErr> {
    Ok(user_teams(db, scope, user_id)
        .await?
        .iter()
        .any(|t| t.id == team_id))
}

/// A team, if `user_id` is a member of its organization: how a caller who names only a team
/// reaches it (anyone else learns nothing of it).
///
/// # Errors
/// Database failures.
pub async fn team_of_member(
    db: &impl ConnectionTrait,
    user_id: &str,
    team_id: &str,
) -> Result<Option<team::Model>, DbErr> {
    team::Entity::find_by_id(team_id.to_owned())
        .filter(team::Column::OrganizationId.in_subquery(organizations_of_user(user_id)))
        .one(db)
        .await
}

/// `SELECT organizationId FROM member WHERE userId = ?`.
fn organizations_of_user(user_id: &str) -> sea_orm::sea_query::SelectStatement {
    member::Entity::find()
        .select_only()
        .column(member::Column::OrganizationId)
        .filter(member::Column::UserId.eq(user_id))
        .into_query()
}

/// The organizations `user_id` is a member of, oldest membership first (user-scoped).
///
/// # Errors
/// Database failures.
pub async fn organizations_of(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<organization::Model>, DbErr> {
    let memberships = member::Entity::find()
        .filter(member::Column::UserId.eq(user_id))
        .order_by_asc(member::Column::CreatedAt)
        .all(db)
        .await?;
    let orgs = organization::Entity::find()
        .filter(organization::Column::Id.in_subquery(organizations_of_user(user_id)))
        .all(db)
        .await?;
    Ok(memberships
        .iter()
        .filter_map(|m| orgs.iter().find(|o| o.id == m.organization_id).cloned())
        .collect())
}

/// The teams of the scope's organization in which `user_id` has a seat.
///
/// # Errors
/// Database failures.
pub async fn user_teams(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    user_id: &str,
) -> Result<Vec<team::Model>, DbErr> {
    team::Entity::find()
        .filter(team::Column::OrganizationId.eq(scope.org_id()))
        .filter(team::Column::Id.in_subquery(seats_of(user_id)))
        .all(db)
        .await
}

/// `SELECT teamId FROM teamMember WHERE userId = ?`.
fn seats_of(user_id: &str) -> sea_orm::sea_query::SelectStatement {
    team_member::Entity::find()
        .select_only()
        .column(team_member::Column::TeamId)
        .filter(team_member::Column::UserId.eq(user_id))
        .into_query()
}

/// The caller's own teams across every organization they are still a member of: user-scoped,
/// so it needs no organization scope.
///
/// # Errors
/// Database failures.
pub async fn own_teams(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<team::Model>, DbErr> {
    team::Entity::find()
        .filter(team::Column::Id.in_subquery(seats_of(user_id)))
        .filter(team::Column::OrganizationId.in_subquery(organizations_of_user(user_id)))
        .all(db)
        .await
}

/// Seats `seat.user_id` in `seat.team_id`, a team of the permit's organization; idempotent by
/// membership key. Needs `member:update`.
///
/// # Errors
/// Database failures; `RecordNotFound` for a team of another organization.
pub async fn add_seat(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, MemberUpdate>,
    seat: team_member::Model,
) -> Result<team_member::Model, DbErr> {
    if team_by_id(db, permit.scope(), &seat.team_id).await?.is_none() {
        return Err(DbErr::RecordNotFound("team".into()));
    }
    if let Some(existing) = team_member::Entity::find()
        .filter(team_member::Column::MembershipKey.eq(seat.membership_key.clone()))
        .one(db)
        .await?
    {
        return Ok(existing);
    }
    team_member::Entity::insert(team_member::ActiveModel::from(seat.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(seat)
}

/// Unseats a user from a team of the permit's organization. Needs `member:delete`.
///
/// # Errors
/// Database failures.
pub async fn remove_seat(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, MemberDelete>,
    team_id: &str,
    user_id: &str,
) -> Result<bool, DbErr> {
    if team_by_id(db, permit.scope(), team_id).await?.is_none() {
        return Ok(false);
    }
    let res = team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Stores a custom role of the permit's organization. Needs `ac:create`.
///
/// # Errors
/// Database failures.
pub async fn create_custom_role(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, RoleCreate>,
    row: organization_role::Model,
) -> Result<organization_role::Model, DbErr> {
    let row = organization_role::Model {
        organization_id: permit.org_id().to_owned(),
        ..row
    };
    organization_role::Entity::insert(organization_role::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Renames or re-grants a custom role of the permit's organization. Needs `ac:update`.
///
/// # Errors
/// Database failures; `RecordNotFound` for a role of another organization.
pub async fn update_custom_role(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, RoleUpdate>,
    role_id: &str,
    role: String,
    permission: String,
    now: DateTime<Utc>,
) -> Result<organization_role::Model, DbErr> {
    let existing = custom_role(db, permit.scope(), None, Some(role_id))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("role".into()))?;
    let mut row: organization_role::ActiveModel = existing.into();
    row.role = Set(role);
    row.permission = Set(permission);
    row.updated_at = Set(Some(now));
    row.update(db).await
}

/// Deletes a custom role of the permit's organization. Needs `ac:delete`.
///
/// # Errors
/// Database failures.
pub async fn delete_custom_role(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, RoleDelete>,
    role_id: &str,
) -> Result<(), DbErr> {
    organization_role::Entity::delete_many()
        .filter(organization_role::Column::Id.eq(role_id))
        .filter(organization_role::Column::OrganizationId.eq(permit.org_id()))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks an invitation of the permit's organization canceled. Needs `invitation:cancel`.
///
/// # Errors
/// Database failures.
pub async fn cancel_invitation(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCancel>,
    invitation_id: &str,
) -> Result<bool, DbErr> {
    let res = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Status,
            sea_orm::sea_query::Expr::value("canceled"),
        )
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Pushes out a pending invitation's expiry (a resend). Needs `invitation:create`.
///
/// # Errors
/// Database failures.
pub async fn extend_invitation(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    invitation_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(expires_at),
        )
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .exec(db)
        .await?;
    Ok(())
}

// SSO connections. An organization's connection is reached only with a permit of that
// organization; a personal one (no organization) with none, its registrant having been checked by
// the caller. Anything else fails closed as `RecordNotFound`.

fn connection_in_reach<G: Grant>(
    permit: Option<&Permit<'_, G>>,
    row: &sso_provider::Model,
) -> Result<(), DbErr> {
    let reached = match (permit, row.organization_id.as_deref()) {
        (Some(permit), Some(org_id)) => permit.org_id() == org_id,
        (None, None) => true,
        _ => false,
    };
    if reached {
        Ok(())
    } else {
        Err(DbErr::RecordNotFound("ssoProvider".into()))
    }
}

/// The permit's organization's SSO connections, by `providerId`. Needs `sso:read`.
///
/// # Errors
/// Database failures.
pub async fn sso_connections(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, SsoRead>,
) -> Result<Vec<sso_provider::Model>, DbErr> {
    sso_provider::Entity::find()
        .filter(sso_provider::Column::OrganizationId.eq(permit.org_id()))
        .order_by_asc(sso_provider::Column::ProviderId)
        .all(db)
        .await
}

/// Stores a new connection. Needs `sso:create` for an organization's.
///
/// # Errors
/// Database failures (a taken `providerId` is a unique violation); `RecordNotFound` out of reach.
pub async fn insert_sso_connection(
    db: &impl ConnectionTrait,
    permit: Option<&Permit<'_, SsoCreate>>,
    row: sso_provider::Model,
) -> Result<sso_provider::Model, DbErr> {
    connection_in_reach(permit, &row)?;
    sso_provider::ActiveModel::from(row).insert(db).await
}

/// Replaces a connection's issuer, configs and domain. Needs `sso:update` for an organization's.
///
/// # Errors
/// Database failures; `RecordNotFound` out of reach.
pub async fn update_sso_connection(
    db: &impl ConnectionTrait,
    permit: Option<&Permit<'_, SsoUpdate>>,
    row: sso_provider::Model,
) -> Result<sso_provider::Model, DbErr> {
    connection_in_reach(permit, &row)?;
    use sea_orm::ActiveValue::{NotSet, Unchanged};
    sso_provider::ActiveModel {
        id: Unchanged(row.id),
        issuer: Set(row.issuer),
        oidc_config: Set(row.oidc_config),
        saml_config: Set(row.saml_config),
        // Who registered it, its id and its organization never change.
        user_id: NotSet,
        provider_id: NotSet,
        organization_id: NotSet,
        domain: Set(row.domain),
        domain_verified: Set(row.domain_verified),
    }
    .update(db)
    .await
}

/// Sets `domainVerified`, only if the row still has the domain that was checked. Needs
/// `sso:update` for an organization's connection.
///
/// # Errors
/// Database failures; `RecordNotFound` out of reach.
pub async fn mark_sso_domain_verified(
    db: &impl ConnectionTrait,
    permit: Option<&Permit<'_, SsoUpdate>>,
    row: &sso_provider::Model,
) -> Result<bool, DbErr> {
    connection_in_reach(permit, row)?;
    let done = sso_provider::Entity::update_many()
        .col_expr(
            sso_provider::Column::DomainVerified,
            sea_orm::sea_query::Expr::value(true),
        )
        .filter(sso_provider::Column::Id.eq(row.id.as_str()))
        .filter(sso_provider::Column::Domain.eq(row.domain.as_str()))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Inserts or replaces a connection's provisioning settings. Needs `sso:update` for an
/// organization's connection.
///
/// # Errors
/// Database failures; `RecordNotFound` out of reach.
pub async fn save_sso_provisioning(
    db: &impl ConnectionTrait,
    permit: Option<&Permit<'_, SsoUpdate>>,
    connection: &sso_provider::Model,
    settings: sso_provisioning::Model,
) -> Result<(), DbErr> {
    connection_in_reach(permit, connection)?;
    sso_provisioning::Entity::delete_by_id(connection.provider_id.clone())
        .exec(db)
        .await?;
    let settings = sso_provisioning::Model {
        provider_id: connection.provider_id.clone(),
        ..settings
    };
    sso_provisioning::Entity::insert(sso_provisioning::ActiveModel::from(settings))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Deletes a connection, its provisioning settings and every account linked through it. Needs
/// `sso:delete` for an organization's.
///
/// # Errors
/// Database failures; `RecordNotFound` out of reach.
pub async fn delete_sso_connection(
    db: &impl ConnectionTrait,
    permit: Option<&Permit<'_, SsoDelete>>,
    row: &sso_provider::Model,
) -> Result<(), DbErr> {
    connection_in_reach(permit, row)?;
    account::Entity::delete_many()
        .filter(account::Column::ProviderId.eq(row.provider_id.as_str()))
        .exec(db)
        .await?;
    sso_provisioning::Entity::delete_by_id(row.provider_id.clone())
        .exec(db)
        .await?;
    sso_provider::Entity::delete_by_id(row.id.clone())
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods, reason = "test")]
    use super::*;

    fn scope(org_id: &str) -> OrgScope {
        OrgScope {
            organization: organization::Model {
                id: org_id.into(),
                name: "Org".into(),
                slug: org_id.into(),
                logo: None,
                created_at: chrono::Utc::now(),
                metadata: None,
            },
            member: member::Model {
                id: "m".into(),
                organization_id: org_id.into(),
                user_id: "u".into(),
                role: "owner".into(),
                created_at: chrono::Utc::now(),
            },
            roles: vec!["owner".into()],
        }
    }

    fn connection(org_id: Option<&str>) -> sso_provider::Model {
        sso_provider::Model {
            id: "c".into(),
            issuer: "https://idp.test".into(),
            oidc_config: None,
            saml_config: None,
            user_id: "u".into(),
            provider_id: "p".into(),
            organization_id: org_id.map(str::to_owned),
            domain: "example.com".into(),
            domain_verified: Some(false),
        }
    }

    #[test]
    fn an_organizations_connection_needs_a_permit_of_that_organization() {
        // The action is the permit's type: a delete permit cannot be passed where an update
        // permit is needed (that does not compile), so only the organization is checked here.
        let a = scope("org-a");
        let update_a: Permit<'_, SsoUpdate> = Permit {
            scope: &a,
            grant: std::marker::PhantomData,
        };
        assert!(connection_in_reach(Some(&update_a), &connection(Some("org-a"))).is_ok());
        assert!(connection_in_reach(Some(&update_a), &connection(Some("org-b"))).is_err());
        assert!(connection_in_reach::<SsoUpdate>(None, &connection(Some("org-a"))).is_err());
        assert!(connection_in_reach(Some(&update_a), &connection(None)).is_err());
        assert!(connection_in_reach::<SsoUpdate>(None, &connection(None)).is_ok());
    }
}
