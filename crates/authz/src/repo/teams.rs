//! Teams and their seats.

use castellan_data::entity::{team, team_member};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};

use super::organizations::organizations_of_user;
use crate::grant::{MemberDelete, MemberUpdate, TeamCreate, TeamDelete, TeamUpdate};
use crate::scope::{OrgScope, Permit};

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
pub(super) fn seats_of(user_id: &str) -> sea_orm::sea_query::SelectStatement {
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

/// The ids of an organization's teams.
pub(crate) async fn team_ids(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<String>, DbErr> {
    team::Entity::find()
        .select_only()
        .column(team::Column::Id)
        .filter(team::Column::OrganizationId.eq(org_id))
        .into_tuple()
        .all(db)
        .await
}
