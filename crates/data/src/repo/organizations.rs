//! Organization rows outside any organization's scope: creating one, finding one by slug, and
//! the organizations a user belongs to. Reads and writes inside an organization go through
//! `castellan_authz::repo`, which takes a membership proof.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::DataResult;
use crate::entity::{member, organization};

/// # Errors
/// Database failures.
pub async fn find_by_slug(db: &impl ConnectionTrait, slug: &str) -> DataResult<Option<organization::Model>> {
    Ok(organization::Entity::find()
        .filter(organization::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// # Errors
/// Database failures.
pub async fn find_by_id(db: &impl ConnectionTrait, id: &str) -> DataResult<Option<organization::Model>> {
    Ok(organization::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// The organizations `user_id` is a member of, oldest membership first.
///
/// # Errors
/// Database failures.
pub async fn for_user(db: &impl ConnectionTrait, user_id: &str) -> DataResult<Vec<organization::Model>> {
    let memberships = member::Entity::find()
        .filter(member::Column::UserId.eq(user_id))
        .order_by_asc(member::Column::CreatedAt)
        .all(db)
        .await?;
    let ids: Vec<String> = memberships.iter().map(|m| m.organization_id.clone()).collect();
    let orgs = organization::Entity::find()
        .filter(organization::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?;
    Ok(ids
        .iter()
        .filter_map(|id| orgs.iter().find(|o| &o.id == id).cloned())
        .collect())
}

/// Inserts a full row (organizations, members, teams... all have text ids).
///
/// # Errors
/// [`crate::DataError::Conflict`] on a unique constraint (a taken slug).
pub async fn insert<A>(db: &impl ConnectionTrait, row: A) -> DataResult<()>
where
    A: sea_orm::ActiveModelTrait + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    <A::Entity as EntityTrait>::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Sets a member's role as an SSO connection's group mapping decides it at login. Changes made
/// by members go through `castellan_authz::repo::set_member_role`, which takes a permit.
///
/// # Errors
/// Database failures.
pub async fn set_member_role_from_idp(
    db: &impl ConnectionTrait,
    member: crate::entity::member::Model,
    role: String,
) -> DataResult<crate::entity::member::Model> {
    use sea_orm::ActiveModelTrait as _;
    let mut row: crate::entity::member::ActiveModel = member.into();
    row.role = sea_orm::ActiveValue::Set(role);
    Ok(row.update(db).await?)
}
