//! The SSO domain: connections and who may manage them, domain verification, the login flows
//! and just-in-time provisioning. Nothing here knows about HTTP.

pub mod connections;
pub mod domains;
pub mod login;
pub mod policy;
pub mod provisioning;
pub mod scim;
pub mod setup;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use castellan_audit::AuditEvent;
use castellan_authz::grant::Grant;
use castellan_authz::{Authorizer, OrgScope, Permit};
use castellan_config::Settings;
use castellan_data::entity::sso_provider;
use castellan_data::repo::sso_providers;
use castellan_data::{Clock, DatabaseConnection, TransactionTrait};
use castellan_session::SessionManager;

use crate::dns::TxtResolver;
use crate::error::{Kind, SsoError, SsoResult};
use crate::provider::Connection;
use castellan_oauth::RelyingParty;

pub use castellan_session::Actor;

/// Where a browser login came from (for sessions and the audit log).
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone)]
pub struct SsoService {
    pub(crate) settings: Arc<Settings>,
    pub(crate) db: DatabaseConnection,
    pub(crate) authz: Arc<Authorizer>,
    pub(crate) sessions: Arc<SessionManager>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) origins: castellan_domain::origins::TrustedOrigins,
    pub(crate) outbound: Outbound,
}

/// What the SSO service talks to outside Castellan, built once per worker: the HTTP client pool
/// to every IdP, and the DNS resolver for domain verification.
#[derive(Clone)]
pub struct Outbound {
    pub(crate) rp: RelyingParty,
    /// Why there is no resolver, when the system's configuration could not be read: only
    /// domain verification fails then, with a 500.
    pub(crate) dns: Result<TxtResolver, String>,
}

impl Outbound {
    /// # Errors
    /// The HTTP client could not be built.
    pub fn new(nameserver: Option<std::net::SocketAddr>) -> SsoResult<Self> {
        let dns = TxtResolver::new(nameserver).map_err(|e| {
            tracing::error!(error = %e, "no DNS resolver: SSO domain verification is unavailable");
            e.to_string()
        });
        Ok(Self {
            rp: RelyingParty::new().map_err(SsoError::internal)?,
            dns,
        })
    }
}

impl SsoService {
    #[must_use]
    pub fn new(
        settings: Arc<Settings>,
        db: DatabaseConnection,
        authz: Arc<Authorizer>,
        sessions: Arc<SessionManager>,
        clock: Arc<dyn Clock>,
        origins: castellan_domain::origins::TrustedOrigins,
        outbound: Outbound,
    ) -> Self {
        Self {
            settings,
            db,
            authz,
            sessions,
            clock,
            origins,
            outbound,
        }
    }
}

/// One SSO event for an organization's audit log; the target is the connection's `providerId`.
pub(crate) struct AuditNote<'a> {
    pub org_id: Option<&'a str>,
    pub action: &'static str,
    pub actor_id: Option<String>,
    pub target: &'a str,
    pub details: Value,
}

pub(crate) fn no_access() -> SsoError {
    SsoError::new(Kind::Denied, "You don't have access to this provider")
}

impl SsoService {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn auth_url(&self) -> String {
        self.settings.auth_url()
    }

    /// The connection named `provider_id`.
    ///
    /// # Errors
    /// 404 "Provider not found".
    pub(crate) async fn connection(&self, provider_id: &str) -> SsoResult<Connection> {
        sso_providers::find_by_provider_id(&self.db, provider_id)
            .await?
            .map(Connection::from_row)
            .ok_or_else(|| SsoError::new(Kind::Missing, "Provider not found"))
    }

    /// Better Auth's `checkProviderAccess`, first half: for an organization's connection the
    /// caller's membership (its scope); a personal connection must be the caller's own.
    ///
    /// # Errors
    /// 403 "You don't have access to this provider".
    pub(crate) async fn scope_for(
        &self,
        actor: &Actor,
        row: &sso_provider::Model,
    ) -> SsoResult<Option<OrgScope>> {
        match &row.organization_id {
            Some(org_id) => Ok(Some(
                self.member_scope(actor, org_id).await?.ok_or_else(no_access)?,
            )),
            None if row.user_id == actor.user_id() => Ok(None),
            None => Err(no_access()),
        }
    }

    /// The caller's membership in `org_id`, with the organization's SSO requirement applied to
    /// the session; `None` for a non-member.
    ///
    /// # Errors
    /// `SSO_REQUIRED`; database failures.
    pub(crate) async fn member_scope(&self, actor: &Actor, org_id: &str) -> SsoResult<Option<OrgScope>> {
        match self
            .authz
            .session_scope(&self.db, org_id, actor.user_id(), &actor.auth.session)
            .await?
        {
            castellan_authz::SessionAdmission::Admitted(scope) => Ok(Some(*scope)),
            castellan_authz::SessionAdmission::NotMember => Ok(None),
            castellan_authz::SessionAdmission::SsoRequired => {
                Err(SsoError::Rejected(castellan_domain::Refusal::sso_required()))
            }
        }
    }

    /// Second half: casbin must grant `sso:<action>` in the organization. The permit is what the
    /// connection repositories (`castellan_authz::repo`) take; `None` for a personal connection.
    ///
    /// # Errors
    /// 403 "You don't have access to this provider".
    pub(crate) async fn permit<'s, G: Grant>(
        &self,
        scope: Option<&'s OrgScope>,
    ) -> SsoResult<Option<Permit<'s, G>>> {
        match scope {
            None => Ok(None),
            Some(scope) => Ok(Some(self.authz.permit::<G>(scope).await?.ok_or_else(no_access)?)),
        }
    }

    /// Appends to the organization's audit log (personal connections have none).
    pub(crate) async fn audit(
        &self,
        db: &(impl castellan_data::ConnectionTrait + TransactionTrait),
        note: AuditNote<'_>,
        client: &Client,
    ) -> SsoResult<()> {
        let AuditNote {
            org_id,
            action,
            actor_id,
            target,
            details,
        } = note;
        let Some(org_id) = org_id else {
            return Ok(());
        };
        castellan_audit::record(
            db,
            AuditEvent {
                organization_id: org_id.to_owned(),
                action,
                actor_id,
                target_type: Some("ssoProvider"),
                target_id: Some(target.to_owned()),
                details,
                ip_address: client.ip_address.clone(),
                user_agent: client.user_agent.clone(),
            },
            self.now(),
        )
        .await?;
        Ok(())
    }
}

impl From<&Actor> for Client {
    fn from(actor: &Actor) -> Self {
        Self {
            ip_address: actor.ip_address.clone(),
            user_agent: actor.user_agent.clone(),
        }
    }
}
