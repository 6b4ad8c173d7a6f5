//! The organization row itself: update, delete, the membership lock, and which organizations a user is in.

use castellan_data::entity::{invitation, member, organization, organization_role, team, team_member};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};

use crate::grant::{OrganizationDelete, OrganizationUpdate};
use crate::memberships::MembershipChange;
use crate::scope::{OrgScope, Permit};

/// The organization row itself, updated. Needs `organization:update`.
///
/// # Errors
/// Database failures.
pub async fn update_organization(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, OrganizationUpdate>,
    change: organization::ActiveModel,
) -> Result<(organization::Model, MembershipChange), DbErr> {
    let change = organization::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(permit.org_id().to_owned()),
        ..change
    };
    // Memberships carry the organization's row: they are read again with the change.
    Ok((change.update(db).await?, MembershipChange::of(permit.org_id())))
}

/// Deletes the organization and everything in it. Needs `organization:delete`.
///
/// # Errors
/// Database failures.
pub async fn delete_organization(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, OrganizationDelete>,
) -> Result<MembershipChange, DbErr> {
    let org = permit.org_id().to_owned();
    let teams = super::teams::team_ids(db, &org).await?;
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
    organization::Entity::delete_by_id(org.clone()).exec(db).await?;
    Ok(MembershipChange::of(&org))
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

/// `SELECT organizationId FROM member WHERE userId = ?`.
pub(super) fn organizations_of_user(user_id: &str) -> sea_orm::sea_query::SelectStatement {
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
