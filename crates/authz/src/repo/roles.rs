//! The organization's custom roles.

use castellan_data::entity::organization_role;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

use crate::grant::{RoleCreate, RoleDelete, RoleUpdate};
use crate::scope::{OrgScope, Permit};

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
