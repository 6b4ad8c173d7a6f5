//! The organization use cases. Every org-scoped operation starts from the caller's validated
//! session, resolves the target organization (explicit id after the membership check, else the
//! session's active one), asks the [`Authorizer`] for a scope and a permit, and goes through
//! `castellan_authz::repo`. Changes and their audit entries commit together.

pub mod access_control;
pub mod audit;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod teams;
pub mod webhooks;

use std::sync::Arc;

use castellan_audit::AuditEvent;
use castellan_authz::grant::Grant;
use castellan_authz::{Authorizer, OrgScope, Permit, SessionAdmission};
use castellan_config::Settings;
use castellan_data::{Clock, DatabaseConnection};
use castellan_mail::Outbox;
use castellan_session::SessionManager;
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::error::{OrgError, OrgResult};

/// Better Auth's `membershipLimit` default.
pub const MEMBERSHIP_LIMIT: u64 = 100;
/// Better Auth's `invitationLimit` default.
pub const INVITATION_LIMIT: usize = 100;
/// Better Auth's `invitationExpiresIn` default (48 hours).
pub const INVITATION_TTL: TimeDelta = TimeDelta::hours(48);

pub use castellan_session::Actor;

pub struct OrganizationService {
    pub(crate) db: DatabaseConnection,
    pub(crate) authz: Arc<Authorizer>,
    pub(crate) sessions: Arc<SessionManager>,
    pub(crate) mailer: Outbox,
    pub(crate) settings: Arc<Settings>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl OrganizationService {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        authz: Arc<Authorizer>,
        sessions: Arc<SessionManager>,
        mailer: Outbox,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            authz,
            sessions,
            mailer,
            settings,
            clock,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The organization a request is about: the explicit one, else the session's active one.
    pub(crate) fn target<'a>(actor: &'a Actor, explicit: Option<&'a str>) -> Option<&'a str> {
        explicit.filter(|s| !s.is_empty()).or_else(|| actor.active_org())
    }

    /// The membership check for `org_id`, with its SSO requirement applied to the session.
    ///
    /// # Errors
    /// `SSO_REQUIRED` for a member whose session did not come through the organization's SSO.
    pub(crate) async fn scope(&self, actor: &Actor, org_id: &str) -> OrgResult<Option<OrgScope>> {
        match self
            .authz
            .session_scope(&self.db, org_id, actor.user_id(), &actor.auth.session)
            .await?
        {
            SessionAdmission::Admitted(scope) => Ok(Some(*scope)),
            SessionAdmission::NotMember => Ok(None),
            SessionAdmission::SsoRequired => {
                Err(OrgError::Rejected(castellan_domain::Refusal::sso_required()))
            }
        }
    }

    /// The membership check, failing with `not_member` when the caller is not one.
    pub(crate) async fn require_scope(
        &self,
        actor: &Actor,
        org_id: &str,
        not_member: OrgError,
    ) -> OrgResult<OrgScope> {
        self.scope(actor, org_id).await?.ok_or(not_member)
    }

    /// A casbin decision, failing with `denied` when refused.
    pub(crate) async fn require_permit<'s, G: Grant>(
        &self,
        scope: &'s OrgScope,
        denied: OrgError,
    ) -> OrgResult<Permit<'s, G>> {
        self.authz.permit::<G>(scope).await?.ok_or(denied)
    }

    /// Records an organization change in the audit log, in the caller's transaction.
    pub(crate) async fn audit<C: ConnectionTrait + TransactionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        organization_id: &str,
        action: &'static str,
        target: (&'static str, &str),
        details: serde_json::Value,
    ) -> OrgResult<()> {
        let event = AuditEvent {
            organization_id: organization_id.to_owned(),
            action,
            actor_id: Some(actor.user_id().to_owned()),
            target_type: Some(target.0),
            target_id: Some(target.1.to_owned()),
            details,
            ip_address: actor.ip_address.clone(),
            user_agent: actor.user_agent.clone(),
        };
        castellan_audit::record(db, event, self.now()).await?;
        Ok(())
    }

    /// Role names valid in the organization: the built-in ones and its custom roles.
    pub(crate) async fn known_roles(&self, scope: &OrgScope) -> OrgResult<Vec<String>> {
        let mut roles: Vec<String> = castellan_authz::BUILTIN_ROLES
            .iter()
            .map(|r| (*r).to_owned())
            .collect();
        roles.extend(
            castellan_authz::repo::custom_roles(&self.db, scope)
                .await?
                .into_iter()
                .map(|r| r.role),
        );
        Ok(roles)
    }
}

/// A role request (a string, possibly comma-joined, or a list) normalised to role names.
#[must_use]
pub fn normalise_roles(requested: &[String]) -> Vec<String> {
    requested
        .iter()
        .flat_map(|r| castellan_authz::permissions::split_roles(r))
        .collect()
}
