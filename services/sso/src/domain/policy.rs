//! An organization's SSO policy (`GET /sso/settings`, `POST /sso/update-settings`, Castellan's
//! own): with `requireSso`, its members act in it only through one of its connections (the
//! org-scope guard, `castellan_authz::sso`), and password sign-in for its verified domains
//! answers with the SSO redirect. Only owners change it; each change is audited.

use castellan_authz::{grant, repo};
use castellan_data::repo::sso_providers;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Actor, AuditNote, Client, SsoService, no_access};
use crate::error::{Kind, SsoError, SsoResult};

/// The policy in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoPolicy {
    pub organization_id: String,
    pub require_sso: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

impl SsoService {
    /// # Errors
    /// 403 for a caller who may not read the organization's SSO settings.
    pub async fn sso_policy(&self, actor: &Actor, org_id: &str) -> SsoResult<SsoPolicy> {
        let scope = self.member_scope(actor, org_id).await?.ok_or_else(no_access)?;
        self.permit::<grant::SsoRead>(Some(&scope)).await?;
        let saved = sso_providers::policy(&self.db, org_id).await?;
        Ok(SsoPolicy {
            organization_id: org_id.to_owned(),
            require_sso: saved.as_ref().is_some_and(|p| p.require_sso),
            updated_at: saved.map(|p| p.updated_at),
        })
    }

    /// Turns the requirement on or off. Owners only; turning it on needs a connection of the
    /// organization with a verified domain, so members are never left without a way in.
    ///
    /// # Errors
    /// 403 for anyone but an owner; 400 without a verified connection.
    pub async fn set_sso_policy(
        &self,
        actor: &Actor,
        org_id: &str,
        require_sso: bool,
    ) -> SsoResult<SsoPolicy> {
        let scope = self.member_scope(actor, org_id).await?.ok_or_else(no_access)?;
        if !scope.is_creator() {
            return Err(SsoError::coded(
                Kind::Denied,
                "ONLY_OWNERS_CAN_CHANGE_SSO_POLICY",
                "Only an owner of the organization can change its SSO policy",
            ));
        }
        let permit = self
            .permit::<grant::SsoUpdate>(Some(&scope))
            .await?
            .ok_or_else(no_access)?;
        if require_sso {
            let connections = sso_providers::for_organization(&self.db, org_id).await?;
            if !connections.iter().any(|c| c.domain_verified == Some(true)) {
                return Err(SsoError::coded(
                    Kind::Invalid,
                    "NO_VERIFIED_SSO_CONNECTION",
                    "Requiring SSO needs a connection whose domain is verified",
                ));
            }
        }
        let txn = castellan_data::begin_write(&self.db).await?;
        let saved = repo::save_sso_policy(&txn, &permit, require_sso, actor.user_id(), self.now()).await?;
        self.audit(
            &txn,
            AuditNote {
                org_id: Some(org_id),
                action: "sso.policy.updated",
                actor_id: Some(actor.user_id().to_owned()),
                target: org_id,
                details: json!({ "requireSso": require_sso }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        // The guard reads the requirement from every replica's policy cache.
        self.authz.invalidate(org_id).await;
        Ok(SsoPolicy {
            organization_id: org_id.to_owned(),
            require_sso: saved.require_sso,
            updated_at: Some(saved.updated_at),
        })
    }
}
