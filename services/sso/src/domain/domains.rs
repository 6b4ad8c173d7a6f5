//! Proving control of a connection's domains with a DNS TXT record
//! (`_<prefix>-<providerId>.<domain>` holding the token, or `_<prefix>-<providerId>=<token>`).

use castellan_authz::grant;
use serde_json::json;

use castellan_data::repo::verifications;

use super::{Actor, AuditNote, Client, SsoService};
use crate::dns::LookupError;
use crate::error::{Kind, SsoError, SsoResult};

/// The longest DNS label.
const DNS_LABEL_MAX: usize = 63;

fn already_verified() -> SsoError {
    SsoError::coded(
        Kind::Conflict,
        "DOMAIN_VERIFIED",
        "Domain has already been verified",
    )
}

impl SsoService {
    /// The pending token, reissued when it expired (`POST /sso/request-domain-verification`).
    ///
    /// # Errors
    /// 404/403; 409 `DOMAIN_VERIFIED`.
    pub async fn request_domain_verification(&self, actor: &Actor, provider_id: &str) -> SsoResult<String> {
        let connection = self.connection(provider_id).await?;
        let scope = self.scope_for(actor, &connection.row).await?;
        self.permit::<grant::SsoUpdate>(scope.as_ref()).await?;
        if connection.domain_verified() {
            return Err(already_verified());
        }
        let identifier = self.domain_token_identifier(provider_id);
        let now = self.now();
        if let Some(active) = verifications::peek(&self.db, &identifier, now).await? {
            return Ok(active.value);
        }
        let token = castellan_crypto::random::alphanumeric(24);
        let txn = castellan_data::begin_write(&self.db).await?;
        verifications::insert(
            &txn,
            identifier,
            token.clone(),
            now + chrono::Duration::days(7),
            now,
        )
        .await?;
        self.audit(
            &txn,
            AuditNote {
                org_id: connection.row.organization_id.as_deref(),
                action: "sso.domain.verification_requested",
                actor_id: Some(actor.user_id().to_owned()),
                target: provider_id,
                details: json!({ "domain": connection.row.domain }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Looks the TXT record up for every domain of the connection (`POST /sso/verify-domain`).
    ///
    /// # Errors
    /// Better Auth's: 409 `DOMAIN_VERIFIED`, 400 `IDENTIFIER_TOO_LONG`, 404
    /// `NO_PENDING_VERIFICATION`, 400 `INVALID_DOMAIN`, 502 `DOMAIN_VERIFICATION_FAILED`, 409
    /// `SSO_PROVIDER_CHANGED`.
    pub async fn verify_domain(&self, actor: &Actor, provider_id: &str) -> SsoResult<()> {
        let connection = self.connection(provider_id).await?;
        let scope = self.scope_for(actor, &connection.row).await?;
        let permit = self.permit::<grant::SsoUpdate>(scope.as_ref()).await?;
        if connection.domain_verified() {
            return Err(already_verified());
        }
        let identifier = self.domain_token_identifier(provider_id);
        if identifier.len() > DNS_LABEL_MAX {
            return Err(SsoError::coded(
                Kind::Invalid,
                "IDENTIFIER_TOO_LONG",
                format!("Verification identifier exceeds the DNS label limit of {DNS_LABEL_MAX} characters"),
            ));
        }
        let token = verifications::peek(&self.db, &identifier, self.now())
            .await?
            .ok_or_else(|| {
                SsoError::coded(
                    Kind::Missing,
                    "NO_PENDING_VERIFICATION",
                    "No pending domain verification exists",
                )
            })?
            .value;
        let domains = connection.domains();
        if domains.is_empty() {
            return Err(SsoError::coded(Kind::Invalid, "INVALID_DOMAIN", "Invalid domain"));
        }
        if let Err((domain, records)) = self.txt_proves(&identifier, &token, &domains).await? {
            self.audit(
                &self.db,
                AuditNote {
                    org_id: connection.row.organization_id.as_deref(),
                    action: "sso.domain.verification_failed",
                    actor_id: Some(actor.user_id().to_owned()),
                    target: provider_id,
                    details: json!({ "domain": domain, "records": records }),
                },
                &Client::from(actor),
            )
            .await?;
            return Err(SsoError::coded(
                Kind::Upstream,
                "DOMAIN_VERIFICATION_FAILED",
                format!("Unable to verify domain ownership for {domain}. Try again later"),
            ));
        }
        let txn = castellan_data::begin_write(&self.db).await?;
        if !castellan_authz::repo::mark_sso_domain_verified(&txn, permit.as_ref(), &connection.row).await? {
            return Err(SsoError::coded(
                Kind::Conflict,
                "SSO_PROVIDER_CHANGED",
                "SSO provider changed while domain verification was in progress. Reload the provider and try again",
            ));
        }
        verifications::consume(&txn, &identifier, self.now()).await?;
        self.audit(
            &txn,
            AuditNote {
                org_id: connection.row.organization_id.as_deref(),
                action: "sso.domain.verified",
                actor_id: Some(actor.user_id().to_owned()),
                target: provider_id,
                details: json!({ "domains": domains }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether every domain publishes the token under `identifier`: `Err((domain, records))`
    /// names the first that does not, with how many TXT records it had.
    ///
    /// # Errors
    /// No DNS resolver could be built (a 500).
    pub(crate) async fn txt_proves(
        &self,
        identifier: &str,
        token: &str,
        domains: &[String],
    ) -> SsoResult<Result<(), (String, usize)>> {
        let dns = self.outbound.dns.as_ref().map_err(SsoError::internal)?;
        let expected_pair = format!("{identifier}={token}");
        for domain in domains {
            let records = match dns.txt(&format!("{identifier}.{domain}")).await {
                Ok(records) => records,
                Err(LookupError::NotFound) => Vec::new(),
                Err(LookupError::Failed(e)) => {
                    tracing::warn!(domain = %domain, error = %e, "DNS lookup failed during domain verification");
                    Vec::new()
                }
            };
            let found = records
                .iter()
                .map(|r| r.trim())
                .any(|r| r == expected_pair || r == token);
            if !found {
                return Ok(Err((domain.clone(), records.len())));
            }
        }
        Ok(Ok(()))
    }
}
