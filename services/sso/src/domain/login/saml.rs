//! Finishing a SAML login at the ACS: the flow it answers, the response and its assertion.

use castellan_data::repo::{sso_providers, verifications};

use super::*;
use crate::domain::provisioning::{ExternalIdentity, Protocol, groups_from};
use crate::domain::{Client, SsoService};
use crate::error::{Kind, LoginFailure, SsoError, SsoResult};
use crate::provider::{ClaimMapping, Connection};
use crate::saml::ValidatedAssertion;
use crate::saml::{TrustedIdp, claimed_request_id};

impl SsoService {
    /// `POST /sso/saml2/sp/acs/:providerId`.
    pub async fn finish_saml(
        &self,
        provider_id: &str,
        saml_response: &str,
        relay_state: Option<&str>,
        client: &Client,
    ) -> SsoResult<Finished> {
        // The IdP posts cross-site, so no cookie ties this to a browser; the RelayState and the
        // AuthnRequest id, both single-use and server-side, do.
        let flow = match relay_state {
            Some(state) => self
                .take_flow(state)
                .await?
                .filter(|f| f.protocol == Protocol::Saml && f.provider_id == provider_id),
            None => None,
        };
        let connection = match self.flow_connection(flow.as_ref(), provider_id).await {
            Err(SsoError::Rejected(castellan_domain::Refusal {
                kind: Kind::Missing, ..
            })) => return Err(SsoError::new(Kind::Missing, "No SAML provider found")),
            other => other?,
        };
        let saml = connection
            .saml
            .clone()
            .ok_or_else(|| SsoError::new(Kind::Missing, "No SAML provider found"))?;
        if flow.as_ref().is_none_or(|f| f.setup.is_none()) {
            self.require_verified_domain(&connection)?;
        }
        let flow_found = flow.is_some();
        let fallback = saml
            .idp_initiated_callback_url
            .clone()
            .filter(|u| self.origins.trusts_callback(u))
            .or_else(|| {
                saml.callback_url
                    .clone()
                    .filter(|u| self.origins.trusts_callback(u))
            })
            .unwrap_or_else(|| "/".to_owned());
        let flow = flow.unwrap_or(FlowState {
            protocol: Protocol::Saml,
            provider_id: provider_id.to_owned(),
            callback_url: fallback,
            error_url: None,
            new_user_url: None,
            code_verifier: None,
            nonce: None,
            fingerprint: fingerprint(&connection),
            setup: None,
        });
        let org_id = connection.row.organization_id.clone();
        let vouched = self
            .complete_saml(&connection, &saml, &flow, flow_found, saml_response)
            .await
            .map(|v| (connection, v));
        Ok(self.admit(vouched, &flow, org_id.as_deref(), client).await)
    }

    async fn complete_saml(
        &self,
        connection: &Connection,
        saml: &crate::provider::SamlConfig,
        flow: &FlowState,
        flow_found: bool,
        saml_response: &str,
    ) -> Result<Vouched, LoginFailure> {
        if fingerprint(connection) != flow.fingerprint {
            return Err(LoginFailure::new(
                "invalid_state",
                "sso_provider_changed_during_authentication",
            ));
        }
        let idp = TrustedIdp::from_config(saml)?;
        let sp = self.sp_config(connection)?.ok_or_else(|| {
            LoginFailure::new("invalid_provider", "the connection has no SAML configuration")
        })?;
        let settings = self.provisioning_of(connection.provider_id()).await?;
        let now = self.now();
        let expected = self
            .answered_request(connection, saml_response, settings.allow_idp_initiated, now)
            .await?;
        // An answer to our own request must come back with the RelayState we sent with it (an
        // IdP-initiated response may carry any RelayState of the IdP's).
        if expected.is_some() && !flow_found {
            return Err(LoginFailure::new(
                "invalid_state",
                "the RelayState is unknown or expired",
            ));
        }
        let assertion = sp.validate(&idp, saml_response, expected.as_deref(), now)?;
        self.claim_once(connection, &assertion, now).await?;
        let identity = saml_identity(saml, &assertion, &settings.groups_claim)?;
        Ok(Vouched {
            identity,
            override_profile: false,
            settings,
        })
    }

    /// Which of our AuthnRequests the response answers (consumed, so it answers only once), or
    /// `None` for an IdP-initiated response the connection allows.
    async fn answered_request(
        &self,
        connection: &Connection,
        saml_response: &str,
        allow_idp_initiated: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, LoginFailure> {
        match claimed_request_id(saml_response)? {
            Some(request_id) => {
                let pending =
                    verifications::consume(&self.db, &format!("saml-authn-request:{request_id}"), now)
                        .await
                        .map_err(SsoError::from)?
                        .and_then(|row| serde_json::from_str::<PendingAuthnRequest>(&row.value).ok());
                match pending {
                    Some(p) if p.provider_id == connection.provider_id() => Ok(Some(request_id)),
                    Some(_) => Err(LoginFailure::new("invalid_saml_response", "Provider mismatch")),
                    None => Err(LoginFailure::new(
                        "invalid_saml_response",
                        "InResponseTo names no pending request of ours (unknown, expired or already answered)",
                    )),
                }
            }
            None if allow_idp_initiated => Ok(None),
            None => Err(LoginFailure::new(
                "unsolicited_response",
                "IdP-initiated login is not enabled for this connection",
            )),
        }
    }

    /// Records the assertion's id for its validity window: a second use is a replay.
    async fn claim_once(
        &self,
        connection: &Connection,
        assertion: &ValidatedAssertion,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), LoginFailure> {
        let claimed = sso_providers::claim_assertion(
            &self.db,
            connection.provider_id(),
            &assertion.assertion_id,
            now + chrono::Duration::from_std(assertion.replay_window)
                .unwrap_or_else(|_| chrono::Duration::minutes(15)),
            now,
        )
        .await
        .map_err(SsoError::from)?;
        if !claimed {
            return Err(LoginFailure::new(
                "replay_detected",
                format!("assertion {} was already used", assertion.assertion_id),
            ));
        }
        Ok(())
    }
}

/// Who the assertion says signed in, read through the connection's attribute mapping.
fn saml_identity(
    saml: &crate::provider::SamlConfig,
    assertion: &ValidatedAssertion,
    groups_claim: &str,
) -> Result<ExternalIdentity, LoginFailure> {
    let mapping: ClaimMapping = saml.mapping.clone().unwrap_or_default();
    let attr = |key: Option<&String>, default: &str| {
        assertion
            .attribute(key.map_or(default, String::as_str))
            .map(str::to_owned)
    };
    let email = attr(mapping.email.as_ref(), "email")
        .or_else(|| assertion.name_id_is_email().then(|| assertion.name_id.clone()))
        .or_else(|| assertion.name_id.contains('@').then(|| assertion.name_id.clone()))
        .ok_or_else(|| LoginFailure::new("missing_user_info", "the assertion carries no email"))?;
    let name = match (
        attr(mapping.first_name.as_ref(), "givenName"),
        attr(mapping.last_name.as_ref(), "surname"),
    ) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        _ => attr(mapping.name.as_ref(), "displayName").unwrap_or_else(|| assertion.name_id.clone()),
    };
    let email_verified = mapping
        .email_verified
        .as_ref()
        .and_then(|k| assertion.attribute(k))
        .map(|v| v == "true");
    Ok(ExternalIdentity {
        account_id: assertion.name_id.clone(),
        email,
        email_verified,
        name,
        image: None,
        groups: groups_from(assertion.attributes.get(groups_claim)),
    })
}
