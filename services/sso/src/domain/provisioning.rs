//! Just-in-time provisioning with Better Auth's linking rules, plus Castellan's group → role
//! mapping. Runs in one transaction: the user, the linked account, the membership and their
//! audit entries land together or not at all.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use castellan_authz::{MembershipChange, OrgScope, admission};
use castellan_data::DataError;
use castellan_data::DatabaseTransaction;
use castellan_data::entity::{member, user};
use castellan_data::repo::{accounts, users};
use chrono::{DateTime, Utc};

use super::connections::Provisioning;
use super::{AuditNote, Client, SsoService};
use crate::error::{LoginFailure, SsoError};
use crate::provider::Connection;

/// Which protocol a login came through: Better Auth spells link errors differently for each
/// (`account+not+linked` for OIDC, `account_not_linked` for SAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Oidc,
    Saml,
}

impl Protocol {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Saml => "saml",
        }
    }

    /// A linking error code in the protocol's spelling.
    fn link_error(self, words: &'static str) -> &'static str {
        match (self, words) {
            (Self::Oidc, w) => w,
            (Self::Saml, "account not linked") => "account_not_linked",
            (Self::Saml, "unable to create user") => "unable_to_create_user",
            (Self::Saml, _) => "unable_to_link_account",
        }
    }
}

/// Who the IdP says signed in.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    /// The IdP's stable id for the user: the OIDC `sub` or the SAML NameID.
    pub account_id: String,
    pub email: String,
    /// What the IdP asserts about the address, when it says anything.
    pub email_verified: Option<bool>,
    pub name: String,
    pub image: Option<String>,
    pub groups: Vec<String>,
}

pub struct Provisioned {
    pub user: user::Model,
    pub is_new_user: bool,
    /// The role string the user holds in the connection's organization, if it has one.
    pub role: Option<String>,
}

fn failed(code: &'static str, reason: impl Into<String>) -> LoginFailure {
    LoginFailure::new(code, reason.into())
}

impl SsoService {
    /// Finds, links or creates the user, then makes them a member of the connection's
    /// organization with the mapped or default role.
    ///
    /// # Errors
    /// A [`LoginFailure`] when a rule refuses the identity.
    pub async fn provision(
        &self,
        connection: &Connection,
        identity: ExternalIdentity,
        protocol: Protocol,
        override_profile: bool,
        settings: &Provisioning,
        client: &Client,
    ) -> Result<Provisioned, LoginFailure> {
        let email = acceptable_email(connection, &identity)?;
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(SsoError::from)?;
        let (mut user, is_new_user) =
            find_or_create_user(&txn, connection, &identity, &email, protocol, now).await?;
        if override_profile && !is_new_user {
            user = users::update_profile(
                &txn,
                user,
                users::ProfileChange {
                    name: Some(identity.name.clone()),
                    image: Some(identity.image.clone()),
                },
                now,
            )
            .await
            .map_err(SsoError::from)?;
        }
        let (role, change) = self
            .seat_in_organization(&txn, connection, &identity, &user, settings, client)
            .await?;
        txn.commit().await.map_err(SsoError::from)?;
        self.authz.announce_all(change).await;
        if override_profile && !is_new_user {
            // The user's other sessions carry the profile the IdP just replaced.
            self.sessions
                .forget_user(&user.id)
                .await
                .map_err(SsoError::from)?;
        }
        Ok(Provisioned {
            user,
            is_new_user,
            role,
        })
    }

    /// The role the user holds in the connection's organization after this login: a new
    /// member gets the mapped (else default) role, an existing one the mapped role. `None` for
    /// a personal connection, or one whose organization is gone. With it, the change of an
    /// existing membership to announce once committed.
    async fn seat_in_organization(
        &self,
        txn: &DatabaseTransaction,
        connection: &Connection,
        identity: &ExternalIdentity,
        user: &user::Model,
        settings: &Provisioning,
        client: &Client,
    ) -> Result<(Option<String>, Option<MembershipChange>), LoginFailure> {
        let Some(org_id) = connection.row.organization_id.as_deref() else {
            return Ok((None, None));
        };
        if admission::connection_organization(txn, &connection.row)
            .await
            .map_err(SsoError::from)?
            .is_none()
        {
            return Ok((None, None));
        }
        let mapped = mapped_role(&settings.role_mapping, &identity.groups);
        let membership = self
            .authz
            .scope(txn, org_id, &user.id)
            .await
            .map_err(SsoError::from)?;
        let seat = Seat {
            org_id,
            connection,
            identity,
            user,
            client,
        };
        Ok(match membership {
            None => {
                let granted = mapped.unwrap_or_else(|| settings.default_role.clone());
                (Some(self.admit_member(txn, &seat, granted).await?), None)
            }
            Some(scope) => {
                let (role, change) = self.map_role(txn, &seat, &scope, mapped).await?;
                (Some(role), change)
            }
        })
    }

    /// Makes the user a member with `role`, and records it.
    async fn admit_member(
        &self,
        txn: &DatabaseTransaction,
        seat: &Seat<'_>,
        role: String,
    ) -> Result<String, LoginFailure> {
        let row = member::Model {
            id: castellan_crypto::random::generate_id(),
            organization_id: seat.org_id.to_owned(),
            user_id: seat.user.id.clone(),
            role: role.clone(),
            created_at: self.now(),
        };
        admission::provision_member(txn, &seat.connection.row, row)
            .await
            .map_err(SsoError::from)?;
        let details = json!({ "userId": seat.user.id, "role": role, "groups": seat.identity.groups });
        self.audit(txn, seat.note("sso.member.provisioned", details), seat.client)
            .await?;
        Ok(role)
    }

    /// The IdP's groups decide an existing member's role at every login, except an owner's: an
    /// IdP never demotes the people who administer the organization.
    async fn map_role(
        &self,
        txn: &DatabaseTransaction,
        seat: &Seat<'_>,
        scope: &OrgScope,
        mapped: Option<String>,
    ) -> Result<(String, Option<MembershipChange>), LoginFailure> {
        let current = scope.member().role.clone();
        let is_owner = scope
            .roles()
            .iter()
            .any(|r| r == castellan_authz::permissions::CREATOR_ROLE);
        let Some(mapped) = mapped.filter(|m| *m != current && !is_owner) else {
            return Ok((current, None));
        };
        let (_, change) = admission::set_role_from_idp(txn, &seat.connection.row, scope, mapped.clone())
            .await
            .map_err(SsoError::from)?;
        let details =
            json!({ "userId": seat.user.id, "from": current, "to": mapped, "groups": seat.identity.groups });
        self.audit(txn, seat.note("sso.member.role_mapped", details), seat.client)
            .await?;
        Ok((mapped, Some(change)))
    }
}

/// One login's place in an organization, as the provisioning steps pass it along.
struct Seat<'a> {
    org_id: &'a str,
    connection: &'a Connection,
    identity: &'a ExternalIdentity,
    user: &'a user::Model,
    client: &'a Client,
}

impl Seat<'_> {
    fn note(&self, action: &'static str, details: Value) -> AuditNote<'_> {
        AuditNote {
            org_id: Some(self.org_id),
            action,
            actor_id: Some(self.user.id.clone()),
            target: self.connection.provider_id(),
            details,
        }
    }
}

/// The identity's address, normalised, when the connection may vouch for it: well formed, in
/// one of the connection's domains (an organization's IdP speaks for its domains only), and
/// not reported unverified by the IdP.
pub(crate) fn acceptable_email(
    connection: &Connection,
    identity: &ExternalIdentity,
) -> Result<String, LoginFailure> {
    let email = identity.email.trim().to_lowercase();
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if !castellan_domain::is_valid_email(&email) {
        return Err(failed(
            "missing_user_info",
            "the IdP sent no usable email address",
        ));
    }
    if !connection.covers(domain) {
        return Err(failed(
            "email_domain_mismatch",
            format!("{domain} is not a domain of this connection"),
        ));
    }
    if identity.email_verified == Some(false) {
        return Err(failed(
            "email_not_verified",
            "the IdP reports the email address as unverified",
        ));
    }
    Ok(email)
}

/// The user behind the identity, with Better Auth's linking rules: the account already linked;
/// else the user with that email, linked only when the connection's domain is verified (its
/// `isTrustedProvider`) and the address verified; else a new user. `true` when created.
async fn find_or_create_user(
    txn: &DatabaseTransaction,
    connection: &Connection,
    identity: &ExternalIdentity,
    email: &str,
    protocol: Protocol,
    now: DateTime<Utc>,
) -> Result<(user::Model, bool), LoginFailure> {
    let trusted = connection.domain_verified();
    let provider_id = connection.provider_id();
    let linked = accounts::find_linked(txn, provider_id, &identity.account_id)
        .await
        .map_err(SsoError::from)?;
    if let Some(account) = linked
        && let Some(user) = users::find_by_id(txn, &account.user_id)
            .await
            .map_err(SsoError::from)?
    {
        return Ok((user, false));
    }
    if let Some(user) = users::find_by_email(txn, email).await.map_err(SsoError::from)? {
        if !(trusted && user.email_verified) {
            return Err(failed(
                protocol.link_error("account not linked"),
                "an account with this email exists and the connection's domain is not verified",
            ));
        }
        accounts::insert_linked(txn, provider_id, &identity.account_id, &user.id, now)
            .await
            .map_err(SsoError::from)?;
        return Ok((user, false));
    }
    let created = users::insert(
        txn,
        users::NewUser {
            id: castellan_crypto::random::generate_id(),
            name: identity.name.clone(),
            email: email.to_owned(),
            image: identity.image.clone(),
            email_verified: trusted,
            role: None,
        },
        now,
    )
    .await;
    let created = match created {
        Err(DataError::Conflict) => {
            return Err(failed(
                protocol.link_error("unable to create user"),
                "the user exists",
            ));
        }
        other => other.map_err(SsoError::from)?,
    };
    accounts::insert_linked(txn, provider_id, &identity.account_id, &created.id, now)
        .await
        .map_err(SsoError::from)?;
    Ok((created, true))
}

/// The roles the IdP groups map to, comma-joined in a stable order; `None` when no group maps.
pub(crate) fn mapped_role(
    mapping: &std::collections::BTreeMap<String, String>,
    groups: &[String],
) -> Option<String> {
    let roles: BTreeSet<&str> = groups
        .iter()
        .filter_map(|g| mapping.get(g).map(String::as_str))
        .collect();
    (!roles.is_empty()).then(|| roles.into_iter().collect::<Vec<_>>().join(","))
}

/// Group names from a claim or attribute value: a list, or one string.
#[must_use]
pub fn groups_from(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_a_stable_role_string() {
        let mapping = [
            ("admins".to_owned(), "admin".to_owned()),
            ("eng".to_owned(), "member".to_owned()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            mapped_role(&mapping, &["eng".into(), "admins".into(), "other".into()]).as_deref(),
            Some("admin,member")
        );
        assert_eq!(mapped_role(&mapping, &["other".into()]), None);
    }

    #[test]
    fn saml_spells_link_errors_with_underscores() {
        assert_eq!(
            Protocol::Oidc.link_error("account not linked"),
            "account not linked"
        );
        assert_eq!(
            Protocol::Saml.link_error("account not linked"),
            "account_not_linked"
        );
    }
}
