//! SSO connections an organization (or a user, for personal ones) owns.

use castellan_data::entity::{account, sso_provider, sso_provisioning};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::grant::{Grant, SsoCreate, SsoDelete, SsoRead, SsoUpdate};
use crate::scope::Permit;

pub(super) fn connection_in_reach<G: Grant>(
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

/// Sets the permit's organization's SSO policy. Needs `sso:update`; the service lets only
/// owners change it.
///
/// # Errors
/// Database failures.
pub async fn save_sso_policy(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, SsoUpdate>,
    require_sso: bool,
    updated_by: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<castellan_data::entity::sso_policy::Model, DbErr> {
    use castellan_data::entity::sso_policy;
    sso_policy::Entity::delete_by_id(permit.org_id().to_owned())
        .exec(db)
        .await?;
    let row = sso_policy::Model {
        organization_id: permit.org_id().to_owned(),
        require_sso,
        updated_by: Some(updated_by.to_owned()),
        updated_at: now,
    };
    sso_policy::Entity::insert(sso_policy::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods, reason = "test")]
    use super::*;
    use castellan_data::entity::{member, organization};

    use crate::scope::OrgScope;

    fn scope(org_id: &str) -> OrgScope {
        OrgScope {
            organization: organization::Model {
                id: org_id.into(),
                name: "Org".into(),
                slug: org_id.into(),
                logo: None,
                created_at: chrono::Utc::now(),
                metadata: None,
            }
            .into(),
            member: member::Model {
                id: "m".into(),
                organization_id: org_id.into(),
                user_id: "u".into(),
                role: "owner".into(),
                created_at: chrono::Utc::now(),
            }
            .into(),
            roles: vec!["owner".to_owned()].into(),
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
