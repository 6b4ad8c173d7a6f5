//! Reading and verifying an organization's audit log: owners and admins only.

use castellan_audit::Verification;
use castellan_authz::OrgScope;
use castellan_authz::grant;
use castellan_data::entity::audit_log;

use super::{Actor, OrganizationService};
use crate::error::{OrgError, OrgResult};

impl OrganizationService {
    /// `audit:read` (owners and admins by default; grantable to custom roles).
    async fn auditor_scope(&self, actor: &Actor, org_id: Option<&str>) -> OrgResult<OrgScope> {
        let id = Self::target(actor, org_id)
            .ok_or_else(|| OrgError::invalid("NO_ACTIVE_ORGANIZATION"))?
            .to_owned();
        let scope = self
            .require_scope(
                actor,
                &id,
                OrgError::denied("YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION"),
            )
            .await?;
        self.require_permit::<grant::AuditRead>(
            &scope,
            OrgError::denied("YOU_ARE_NOT_ALLOWED_TO_READ_THE_AUDIT_LOG"),
        )
        .await?;
        Ok(scope)
    }

    /// Newest first.
    ///
    /// # Errors
    /// Not a member, not an owner or admin.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        org_id: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> OrgResult<(Vec<audit_log::Model>, u64)> {
        let scope = self.auditor_scope(actor, org_id).await?;
        Ok(castellan_audit::page(&self.db, scope.org_id(), limit, offset).await?)
    }

    /// # Errors
    /// Not a member, not an owner or admin.
    pub async fn verify_audit_log(&self, actor: &Actor, org_id: Option<&str>) -> OrgResult<Verification> {
        let scope = self.auditor_scope(actor, org_id).await?;
        Ok(castellan_audit::verify(&self.db, scope.org_id()).await?)
    }
}
