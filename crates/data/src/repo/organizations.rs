//! The one organization lookup that needs no scope: by slug, which is public (check-slug,
//! sign-in by organization slug, set-active by slug answer alike for members and outsiders).
//! Everything else on organization tables goes through `castellan_authz` (`repo`, which takes
//! a membership proof or a permit, and `admission`, for the ways in).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::DataResult;
use crate::entity::organization;

/// # Errors
/// Database failures.
pub async fn find_by_slug(db: &impl ConnectionTrait, slug: &str) -> DataResult<Option<organization::Model>> {
    Ok(organization::Entity::find()
        .filter(organization::Column::Slug.eq(slug))
        .one(db)
        .await?)
}
