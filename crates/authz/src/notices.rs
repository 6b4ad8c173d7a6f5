//! Whom the system tells about an organization (a webhook endpoint it disabled, ...): lookups
//! made on no member's behalf, that return addresses and nothing else of the organization.

use castellan_data::entity::{member, user};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::permissions::{CREATOR_ROLE, split_roles};

/// The addresses of the organization's owners.
///
/// # Errors
/// Database failures.
pub async fn owner_addresses(db: &impl ConnectionTrait, organization_id: &str) -> Result<Vec<String>, DbErr> {
    let owners: Vec<String> = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(organization_id))
        .all(db)
        .await?
        .into_iter()
        .filter(|m| split_roles(&m.role).iter().any(|r| r == CREATOR_ROLE))
        .map(|m| m.user_id)
        .collect();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(owners))
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.email)
        .collect())
}
