//! SSO enforcement, in the org-scope guard: an organization that requires SSO admits a
//! session only when it came through one of the organization's own connections, or when it
//! is an owner's break-glass sign-in (audited where it is made). Every org-scoped action taken
//! for a session goes through [`Authorizer::session_scope`], so no endpoint can forget it.

use castellan_data::entity::session;
use castellan_data::repo::sso_providers;
use sea_orm::ConnectionTrait;

use crate::authorizer::{Authorizer, AuthzError};
use crate::scope::OrgScope;

/// The authentication method of an owner's password sign-in past an SSO requirement.
pub const BREAK_GLASS_METHOD: &str = "break-glass";
/// The authentication method of a sign-in through an SSO connection.
pub const SSO_METHOD: &str = "sso";

/// What the guard decided for a session in an organization.
#[derive(Debug)]
pub enum SessionAdmission {
    Admitted(Box<OrgScope>),
    NotMember,
    /// A member, but the organization requires SSO and this session did not come through it.
    SsoRequired,
}

/// The method a session was first authenticated by (`sso+totp` is `sso`).
fn first_method(session: &session::Model) -> &str {
    session
        .auth_method
        .as_deref()
        .and_then(|m| m.split('+').next())
        .unwrap_or_default()
}

impl Authorizer {
    /// The membership check for a session acting in `org_id`, with the organization's SSO
    /// requirement applied.
    ///
    /// # Errors
    /// Database failures.
    pub async fn session_scope(
        &self,
        db: &impl ConnectionTrait,
        org_id: &str,
        user_id: &str,
        session: &session::Model,
    ) -> Result<SessionAdmission, AuthzError> {
        let Some(scope) = self.cached_scope(org_id, user_id).await? else {
            return Ok(SessionAdmission::NotMember);
        };
        if !self.requires_sso(org_id).await? {
            return Ok(SessionAdmission::Admitted(Box::new(scope)));
        }
        let admitted = match first_method(session) {
            SSO_METHOD => match session.auth_connection_id.as_deref() {
                Some(provider_id) => sso_providers::find_by_provider_id(db, provider_id)
                    .await?
                    .is_some_and(|c| c.organization_id.as_deref() == Some(org_id)),
                None => false,
            },
            BREAK_GLASS_METHOD => scope.is_creator(),
            _ => false,
        };
        Ok(if admitted {
            SessionAdmission::Admitted(Box::new(scope))
        } else {
            SessionAdmission::SsoRequired
        })
    }
}
