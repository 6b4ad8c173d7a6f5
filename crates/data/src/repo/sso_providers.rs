//! SSO connections (`ssoProvider`) and their provisioning settings: the lookups of the sign-in
//! flows (no caller to scope by yet) and the used-assertion record. Changes to a connection go
//! through `castellan_authz::repo`, which takes the organization's permit.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::DataResult;
use crate::entity::sso_policy::{self, Entity as Policy};
use crate::entity::sso_provider::{self, Entity as SsoProvider, Model};
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

/// The connections whose `domain` list may cover `domain` (the caller checks each entry): those
/// mentioning its last two labels, so a sign-in never reads every tenant's connection.
///
/// # Errors
/// Database failures.
pub async fn possibly_covering(db: &impl ConnectionTrait, domain: &str) -> DataResult<Vec<Model>> {
    use sea_orm::sea_query::{Expr, ExprTrait as _, Func};
    let labels: Vec<&str> = domain.rsplitn(3, '.').take(2).collect();
    let base: String = labels
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(".")
        .to_lowercase();
    // `%` and `_` cannot stand in a domain; escaping keeps a malformed one from widening the match.
    let pattern = format!(
        "%{}%",
        base.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
    );
    Ok(SsoProvider::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(sso_provider::Column::Domain)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
        )
        .order_by_asc(sso_provider::Column::ProviderId)
        .all(db)
        .await?)
}

/// The organization's SSO policy, if it ever set one.
///
/// # Errors
/// Database failures.
pub async fn policy(db: &impl ConnectionTrait, org_id: &str) -> DataResult<Option<sso_policy::Model>> {
    Ok(Policy::find_by_id(org_id.to_owned()).one(db).await?)
}

/// Whether the organization requires SSO of its members.
///
/// # Errors
/// Database failures.
pub async fn requires_sso(db: &impl ConnectionTrait, org_id: &str) -> DataResult<bool> {
    Ok(policy(db, org_id).await?.is_some_and(|p| p.require_sso))
}

/// The connection an address must sign in through: one that proved a domain covering the
/// address's, of an organization that requires SSO.
///
/// # Errors
/// Database failures.
pub async fn enforced_for_email(db: &impl ConnectionTrait, email: &str) -> DataResult<Option<Model>> {
    let Some(domain) = castellan_domain::domains::of_email(email) else {
        return Ok(None);
    };
    for connection in possibly_covering(db, &domain).await? {
        let proven = connection.domain_verified == Some(true)
            && castellan_domain::domains::covers(&connection.domain, &domain);
        if let (true, Some(org_id)) = (proven, connection.organization_id.as_deref())
            && requires_sso(db, org_id).await?
        {
            return Ok(Some(connection));
        }
    }
    Ok(None)
}

/// # Errors
/// Database failures.
pub async fn provisioning(
    db: &impl ConnectionTrait,
    provider_id: &str,
) -> DataResult<Option<sso_provisioning::Model>> {
    Ok(Provisioning::find_by_id(provider_id.to_owned()).one(db).await?)
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
