//! A connection's provisioning settings (`sso/provisioning`): default role, groups claim, role mapping, IdP-initiated logins.

use castellan_authz::grant;
use std::collections::BTreeMap;

use castellan_authz::repo;
use serde_json::json;

use castellan_data::entity::sso_provisioning;
use castellan_data::repo::sso_providers;

use super::*;
use crate::domain::{Actor, AuditNote, Client, SsoService};
use crate::error::{Kind, SsoError, SsoResult};

impl SsoService {
    /// The provisioning settings in force for a connection (defaults when none were saved).
    ///
    /// # Errors
    /// Database failures.
    pub async fn provisioning_of(&self, provider_id: &str) -> SsoResult<Provisioning> {
        self.provisioning_in(&self.db, provider_id).await
    }

    /// [`Self::provisioning_of`], read through `db` (a transaction in progress).
    ///
    /// # Errors
    /// Database failures.
    pub(crate) async fn provisioning_in(
        &self,
        db: &impl castellan_data::ConnectionTrait,
        provider_id: &str,
    ) -> SsoResult<Provisioning> {
        let saved = sso_providers::provisioning(db, provider_id).await?;
        Ok(match saved {
            Some(row) => Provisioning {
                default_role: row.default_role,
                groups_claim: row.groups_claim.unwrap_or_else(|| "groups".to_owned()),
                role_mapping: serde_json::from_str(&row.role_mapping).unwrap_or_default(),
                allow_idp_initiated: row.allow_idp_initiated,
            },
            None => Provisioning {
                default_role: self.settings.sso.default_role.clone(),
                groups_claim: "groups".to_owned(),
                role_mapping: BTreeMap::new(),
                allow_idp_initiated: false,
            },
        })
    }

    /// # Errors
    /// 404 / 403.
    pub async fn get_provisioning(&self, actor: &Actor, provider_id: &str) -> SsoResult<Provisioning> {
        let connection = self.connection(provider_id).await?;
        let scope = self.scope_for(actor, &connection.row).await?;
        self.permit::<grant::SsoRead>(scope.as_ref()).await?;
        self.provisioning_of(provider_id).await
    }

    /// Changes a connection's provisioning settings. Roles must exist in the organization; the
    /// owner role is never granted by an IdP.
    ///
    /// # Errors
    /// 404 / 403; 400 for an unknown role.
    pub async fn set_provisioning(
        &self,
        actor: &Actor,
        change: ProvisioningChange,
    ) -> SsoResult<Provisioning> {
        let connection = self.connection(&change.provider_id).await?;
        let scope = self.scope_for(actor, &connection.row).await?;
        let permit = self.permit::<grant::SsoUpdate>(scope.as_ref()).await?;
        let mut settings = self.provisioning_of(&change.provider_id).await?;
        if let Some(role) = change.default_role {
            settings.default_role = role;
        }
        if let Some(claim) = change.groups_claim {
            settings.groups_claim = claim;
        }
        if let Some(mapping) = change.role_mapping {
            settings.role_mapping = mapping;
        }
        if let Some(allow) = change.allow_idp_initiated {
            settings.allow_idp_initiated = allow;
        }
        self.check_grantable(
            scope.as_ref(),
            std::iter::once(&settings.default_role).chain(settings.role_mapping.values()),
        )
        .await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::save_sso_provisioning(
            &txn,
            permit.as_ref(),
            &connection.row,
            sso_provisioning::Model {
                provider_id: change.provider_id.clone(),
                default_role: settings.default_role.clone(),
                groups_claim: Some(settings.groups_claim.clone()),
                role_mapping: json!(settings.role_mapping).to_string(),
                allow_idp_initiated: settings.allow_idp_initiated,
                updated_at: self.now(),
            },
        )
        .await?;
        self.audit(
            &txn,
            AuditNote {
                org_id: connection.row.organization_id.as_deref(),
                action: "sso.provisioning.updated",
                actor_id: Some(actor.user_id().to_owned()),
                target: &change.provider_id,
                details: json!({
                    "defaultRole": settings.default_role,
                    "groupsClaim": settings.groups_claim,
                    "roleMapping": settings.role_mapping,
                    "allowIdpInitiated": settings.allow_idp_initiated,
                }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        Ok(settings)
    }

    /// Roles an IdP may grant in the organization: built-in or custom, never the owner role.
    ///
    /// # Errors
    /// 400 for the owner role; 400 `ROLE_NOT_FOUND`.
    pub(crate) async fn check_grantable(
        &self,
        scope: Option<&castellan_authz::OrgScope>,
        roles: impl Iterator<Item = &String>,
    ) -> SsoResult<()> {
        for role in roles {
            if role == castellan_authz::permissions::CREATOR_ROLE {
                return Err(SsoError::coded(
                    Kind::Invalid,
                    "ROLE_NOT_GRANTABLE",
                    "The owner role cannot be granted through SSO",
                ));
            }
            let known = castellan_authz::permissions::BUILTIN_ROLES.contains(&role.as_str())
                || match scope {
                    Some(scope) => castellan_authz::repo::custom_role(&self.db, scope, Some(role), None)
                        .await?
                        .is_some(),
                    None => false,
                };
            if !known {
                return Err(SsoError::coded(
                    Kind::Invalid,
                    "ROLE_NOT_FOUND",
                    format!("Role {role:?} not found"),
                ));
            }
        }
        Ok(())
    }
}
