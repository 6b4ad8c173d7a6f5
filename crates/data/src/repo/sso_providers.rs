//! SSO connections (`ssoProvider`) and their provisioning settings. Lookups here serve the
//! unauthenticated sign-in flows; who may change a connection is decided by the SSO service.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::DataResult;
use crate::entity::sso_provider::{self, ActiveModel, Entity as SsoProvider, Model};
use crate::entity::sso_provisioning::{self, Entity as Provisioning};

/// # Errors
/// Database failures.
pub async fn find_by_provider_id(db: &impl ConnectionTrait, provider_id: &str) -> DataResult<Option<Model>> {
    Ok(SsoProvider::find()
        .filter(sso_provider::Column::ProviderId.eq(provider_id))
        .one(db)
        .await?)
}

/// The organization's connections, oldest `providerId` first (a stable choice when several).
///
/// # Errors
/// Database failures.
pub async fn for_organization(db: &impl ConnectionTrait, org_id: &str) -> DataResult<Vec<Model>> {
    Ok(SsoProvider::find()
        .filter(sso_provider::Column::OrganizationId.eq(org_id))
        .order_by_asc(sso_provider::Column::ProviderId)
        .all(db)
        .await?)
}

/// Connections registered by `user_id` outside any organization.
///
/// # Errors
/// Database failures.
pub async fn personal(db: &impl ConnectionTrait, user_id: &str) -> DataResult<Vec<Model>> {
    Ok(SsoProvider::find()
        .filter(sso_provider::Column::UserId.eq(user_id))
        .filter(sso_provider::Column::OrganizationId.is_null())
        .order_by_asc(sso_provider::Column::ProviderId)
        .all(db)
        .await?)
}

/// How many connections `user_id` registered (Better Auth's per-user limit counts them all).
///
/// # Errors
/// Database failures.
pub async fn count_registered_by(db: &impl ConnectionTrait, user_id: &str) -> DataResult<u64> {
    use sea_orm::PaginatorTrait as _;
    Ok(SsoProvider::find()
        .filter(sso_provider::Column::UserId.eq(user_id))
        .count(db)
        .await?)
}

/// Every connection, for matching an email domain against the comma-separated `domain` lists.
///
/// # Errors
/// Database failures.
pub async fn all(db: &impl ConnectionTrait) -> DataResult<Vec<Model>> {
    Ok(SsoProvider::find()
        .order_by_asc(sso_provider::Column::ProviderId)
        .all(db)
        .await?)
}

/// # Errors
/// [`crate::DataError::Conflict`] when the `providerId` is taken.
pub async fn insert(db: &impl ConnectionTrait, row: ActiveModel) -> DataResult<Model> {
    Ok(row.insert(db).await?)
}

/// # Errors
/// Database failures.
pub async fn update(db: &impl ConnectionTrait, row: ActiveModel) -> DataResult<Model> {
    Ok(row.update(db).await?)
}

/// Sets `domainVerified` only if the row still has the `domain` that was checked.
///
/// # Errors
/// Database failures.
pub async fn mark_domain_verified(db: &impl ConnectionTrait, id: &str, domain: &str) -> DataResult<bool> {
    let done = SsoProvider::update_many()
        .col_expr(
            sso_provider::Column::DomainVerified,
            sea_orm::sea_query::Expr::value(true),
        )
        .filter(sso_provider::Column::Id.eq(id))
        .filter(sso_provider::Column::Domain.eq(domain))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// # Errors
/// Database failures.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> DataResult<()> {
    SsoProvider::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(())
}

/// # Errors
/// Database failures.
pub async fn provisioning(
    db: &impl ConnectionTrait,
    provider_id: &str,
) -> DataResult<Option<sso_provisioning::Model>> {
    Ok(Provisioning::find_by_id(provider_id.to_owned()).one(db).await?)
}

/// Inserts or replaces a connection's provisioning settings.
///
/// # Errors
/// Database failures.
pub async fn save_provisioning(db: &impl ConnectionTrait, row: sso_provisioning::Model) -> DataResult<()> {
    Provisioning::delete_by_id(row.provider_id.clone())
        .exec(db)
        .await?;
    let active: sso_provisioning::ActiveModel = row.into();
    Provisioning::insert(active).exec_without_returning(db).await?;
    Ok(())
}

/// # Errors
/// Database failures.
pub async fn delete_provisioning(db: &impl ConnectionTrait, provider_id: &str) -> DataResult<()> {
    Provisioning::delete_by_id(provider_id.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

/// Records that assertion `id` (scoped by its connection) was used, until `expires_at`.
/// `false` when it was already recorded: a replay. The primary key makes this atomic across
/// replicas; expired ids are swept on the way.
///
/// # Errors
/// Database failures.
pub async fn claim_assertion(
    db: &impl ConnectionTrait,
    provider_id: &str,
    id: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> DataResult<bool> {
    use crate::entity::saml_assertion;
    saml_assertion::Entity::delete_many()
        .filter(saml_assertion::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let row = saml_assertion::ActiveModel {
        id: sea_orm::ActiveValue::Set(format!("{provider_id}:{id}")),
        provider_id: sea_orm::ActiveValue::Set(provider_id.to_owned()),
        expires_at: sea_orm::ActiveValue::Set(expires_at),
    };
    match saml_assertion::Entity::insert(row)
        .exec_without_returning(db)
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
