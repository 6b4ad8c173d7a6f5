//! Members of the scope's organization.

use castellan_data::entity::{member, team_member, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::{MAX_OFFSET, MAX_PAGE};
use crate::grant::MemberUpdate;
use crate::memberships::MembershipChange;
use crate::scope::{OrgScope, Permit};

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
    // The page first, then its users: joined in one query, Postgres would join every row the
    // offset skips (5,000 user lookups for a page at offset 5,000).
    let rows = query
        .order_by_asc(member::Column::CreatedAt)
        .order_by_asc(member::Column::Id)
        .limit(limit.min(MAX_PAGE))
        .offset(offset.min(MAX_OFFSET))
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|m| m.user_id.clone()).collect();
    let mut users: std::collections::HashMap<String, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let joined = rows
        .into_iter()
        .map(|m| {
            let u = users.remove(&m.user_id);
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
) -> Result<(member::Model, MembershipChange), DbErr> {
    if target.organization_id != permit.org_id() {
        return Err(DbErr::RecordNotFound("member".into()));
    }
    let mut row: member::ActiveModel = target.into();
    row.role = Set(role);
    Ok((row.update(db).await?, MembershipChange::of(permit.org_id())))
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
) -> Result<MembershipChange, DbErr> {
    if target.organization_id != scope.org_id() {
        return Err(DbErr::RecordNotFound("member".into()));
    }
    let teams = super::teams::team_ids(db, scope.org_id()).await?;
    if !teams.is_empty() {
        team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.is_in(teams))
            .filter(team_member::Column::UserId.eq(&target.user_id))
            .exec(db)
            .await?;
    }
    member::Entity::delete_by_id(target.id.clone()).exec(db).await?;
    Ok(MembershipChange::of(scope.org_id()))
}
