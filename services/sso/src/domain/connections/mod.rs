//! Registering and managing SSO connections (Better Auth's `sso/register`, `sso/providers`,
//! `sso/get-provider`, `sso/update-provider`, `sso/delete-provider`), plus Castellan's
//! per-connection provisioning settings.

use castellan_authz::grant;
use std::collections::BTreeMap;

use castellan_authz::repo;
use serde_json::{Map, Value, json};

use castellan_data::DataError;
use castellan_data::entity::sso_provider;
use castellan_data::repo::{accounts, sso_providers, verifications};

use super::{Actor, AuditNote, Client, SsoService};
use crate::error::{Kind, SsoError, SsoResult};
use crate::provider::{Connection, OidcConfig, SamlConfig, open_secret, seal_secret, split_domains};
mod idp;
mod outbound;
mod provisioning_settings;

use crate::saml::TrustedIdp;

/// Provider ids that name other sign-in methods (Better Auth's list).
const RESERVED_PROVIDER_IDS: [&str; 7] = [
    "credential",
    "email-otp",
    "magic-link",
    "phone-number",
    "anonymous",
    "siwe",
    "email-password",
];
/// Connections one user may register (Better Auth's `providersLimit` default).
const PROVIDERS_PER_USER: u64 = 10;
/// How long a domain-verification token stays valid (Better Auth's 7 days).
const DOMAIN_TOKEN_DAYS: i64 = 7;

pub struct Registration {
    pub provider_id: String,
    pub issuer: String,
    pub domain: String,
    pub organization_id: Option<String>,
    pub oidc: Option<Map<String, Value>>,
    pub saml: Option<Map<String, Value>>,
    pub override_user_info: Option<bool>,
}

#[derive(Default)]
pub struct Update {
    pub provider_id: String,
    pub issuer: Option<String>,
    pub domain: Option<String>,
    pub oidc: Option<Map<String, Value>>,
    pub saml: Option<Map<String, Value>>,
}

impl Update {
    fn is_empty(&self) -> bool {
        self.issuer.is_none() && self.domain.is_none() && self.oidc.is_none() && self.saml.is_none()
    }
}

/// A connection's provisioning settings (Castellan's own, beyond Better Auth).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    pub default_role: String,
    /// The OIDC claim or SAML attribute that lists the user's groups.
    pub groups_claim: String,
    /// IdP group → organization role, applied at every login.
    pub role_mapping: BTreeMap<String, String>,
    /// Accept SAML responses the IdP sends unasked (no `InResponseTo`).
    pub allow_idp_initiated: bool,
}

#[derive(Default)]
pub struct ProvisioningChange {
    pub provider_id: String,
    pub default_role: Option<String>,
    pub groups_claim: Option<String>,
    pub role_mapping: Option<BTreeMap<String, String>>,
    pub allow_idp_initiated: Option<bool>,
}

fn invalid(message: impl Into<String>) -> SsoError {
    SsoError::new(Kind::Invalid, message.into())
}

/// What `register` answers: the connection, the plain client secret the caller sent, and the
/// domain-verification token when verification is on.
pub struct Registered {
    pub connection: Connection,
    pub client_secret: Option<String>,
    pub domain_verification_token: Option<String>,
}

impl SsoService {
    /// `_<prefix>-<providerId>`: the verification-table identifier and the TXT record's label.
    pub(crate) fn domain_token_identifier(&self, provider_id: &str) -> String {
        format!("_{}-{provider_id}", self.settings.sso.token_prefix)
    }

    /// Registers a connection (`POST /sso/register`).
    ///
    /// # Errors
    /// 401/403/400/422 as Better Auth; 400 for a configuration Castellan cannot use safely.
    pub async fn register(&self, actor: &Actor, reg: Registration) -> SsoResult<Registered> {
        let scope = match &reg.organization_id {
            Some(org_id) => Some(
                self.member_scope(actor, org_id)
                    .await?
                    .ok_or_else(|| invalid("You are not a member of the organization"))?,
            ),
            None => None,
        };
        let permit =
            match &scope {
                Some(scope) => Some(self.authz.permit::<grant::SsoCreate>(scope).await?.ok_or_else(
                    || {
                        SsoError::new(
                            Kind::Denied,
                            "You must be an organization owner or admin to register SSO providers",
                        )
                    },
                )?),
                None => None,
            };
        self.check_registration(actor, &reg).await?;
        let (oidc, client_secret) = match reg.oidc {
            Some(input) => {
                let (cfg, secret) = self
                    .oidc_to_store(input, &reg.issuer, reg.override_user_info)
                    .await?;
                (Some(cfg), Some(secret))
            }
            None => (None, None),
        };
        let saml = match reg.saml {
            Some(input) => Some(self.saml_to_store(input, &reg.issuer).await?),
            None => None,
        };

        let row = sso_provider::Model {
            id: castellan_crypto::random::generate_id(),
            issuer: reg.issuer,
            oidc_config: oidc.as_ref().map(|c| json!(c).to_string()),
            saml_config: saml.as_ref().map(|c| json!(c).to_string()),
            user_id: actor.user_id().to_owned(),
            provider_id: reg.provider_id,
            organization_id: reg.organization_id,
            domain: reg.domain,
            domain_verified: Some(false),
        };
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db).await?;
        let stored = match repo::insert_sso_connection(&txn, permit.as_ref(), row)
            .await
            .map_err(DataError::from)
        {
            Err(DataError::Conflict) => {
                return Err(SsoError::new(
                    Kind::Unprocessable,
                    "SSO provider with this providerId already exists",
                ));
            }
            other => other?,
        };
        let token = self.domain_token(&txn, &stored.provider_id, now).await?;
        let connection = Connection::from_row(stored);
        self.audit(
            &txn,
            AuditNote {
                org_id: connection.row.organization_id.as_deref(),
                action: "sso.connection.created",
                actor_id: Some(actor.user_id().to_owned()),
                target: connection.provider_id(),
                details: json!({ "type": connection.kind(), "issuer": connection.row.issuer, "domain": connection.row.domain }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        Ok(Registered {
            connection,
            client_secret,
            domain_verification_token: token,
        })
    }

    /// What a registration must satisfy before anything is fetched or stored.
    async fn check_registration(&self, actor: &Actor, reg: &Registration) -> SsoResult<()> {
        validate_provider_id(&reg.provider_id)?;
        if RESERVED_PROVIDER_IDS.contains(&reg.provider_id.as_str()) {
            return Err(SsoError::new(
                Kind::Unprocessable,
                "This providerId is reserved and cannot be used for an SSO provider",
            ));
        }
        if sso_providers::count_registered_by(&self.db, actor.user_id()).await? >= PROVIDERS_PER_USER {
            return Err(SsoError::new(
                Kind::Denied,
                "You have reached the maximum number of SSO providers",
            ));
        }
        url::Url::parse(&reg.issuer).map_err(|_| invalid("[body.issuer] Invalid URL"))?;
        if split_domains(&reg.domain).is_empty() {
            return Err(SsoError::coded(Kind::Invalid, "INVALID_DOMAIN", "Invalid domain"));
        }
        if reg.oidc.is_none() && reg.saml.is_none() {
            return Err(invalid("oidcConfig or samlConfig is required"));
        }
        if sso_providers::find_by_provider_id(&self.db, &reg.provider_id)
            .await?
            .is_some()
        {
            return Err(SsoError::new(
                Kind::Unprocessable,
                "SSO provider with this providerId already exists",
            ));
        }

        Ok(())
    }

    /// An OIDC configuration as stored: discovery done, the client secret sealed. Also the
    /// secret in the clear, which the registration answer shows once.
    pub(crate) async fn oidc_to_store(
        &self,
        input: Map<String, Value>,
        issuer: &str,
        override_user_info: Option<bool>,
    ) -> SsoResult<(OidcConfig, String)> {
        let mut cfg: OidcConfig = serde_json::from_value(Value::Object(input))
            .map_err(|e| invalid(format!("[body.oidcConfig] {e}")))?;
        issuer.clone_into(&mut cfg.issuer);
        if let Some(over) = override_user_info {
            cfg.override_user_info = Some(over);
        }
        self.prepare_oidc(&mut cfg).await?;
        let secret = cfg.client_secret.clone();
        cfg.client_secret = seal_secret(&self.settings.secrets, &secret).map_err(SsoError::internal)?;
        Ok((cfg, secret))
    }

    /// A SAML configuration as stored: the IdP's metadata fetched when given by URL, and checked.
    async fn saml_to_store(&self, input: Map<String, Value>, issuer: &str) -> SsoResult<SamlConfig> {
        self.saml_config_to_store(input, issuer, false).await
    }

    /// [`SsoService::saml_to_store`] for a configuration that is only the IdP's metadata: the
    /// entry point is the metadata's HTTP-Redirect SSO endpoint (the setup portal's case).
    pub(crate) async fn saml_to_store_from_metadata(
        &self,
        input: Map<String, Value>,
        issuer: &str,
    ) -> SsoResult<SamlConfig> {
        self.saml_config_to_store(input, issuer, true).await
    }

    async fn saml_config_to_store(
        &self,
        input: Map<String, Value>,
        issuer: &str,
        entry_point_from_metadata: bool,
    ) -> SsoResult<SamlConfig> {
        let mut cfg: SamlConfig = serde_json::from_value(Value::Object(input))
            .map_err(|e| invalid(format!("[body.samlConfig] {e}")))?;
        if cfg.issuer.is_empty() {
            issuer.clone_into(&mut cfg.issuer);
        }
        self.fetch_idp_metadata(&mut cfg).await?;
        if entry_point_from_metadata && cfg.entry_point.is_empty() {
            let xml = cfg.idp_metadata.as_ref().and_then(|m| m.metadata.as_deref());
            cfg.entry_point = xml
                .and_then(crate::saml::redirect_sso_location_in)
                .ok_or_else(|| {
                    SsoError::coded(
                        Kind::Invalid,
                        "SAML_INVALID_METADATA",
                        "The IdP metadata names no SingleSignOnService with the HTTP-Redirect binding",
                    )
                })?;
        }
        validate_saml(&cfg)?;
        self.seal_sp_key(&mut cfg)?;
        Ok(cfg)
    }

    /// The DNS TXT token a new connection's domain is verified with, when verification is on.
    pub(crate) async fn domain_token(
        &self,
        txn: &castellan_data::DatabaseTransaction,
        provider_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> SsoResult<Option<String>> {
        if !self.settings.sso.domain_verification {
            return Ok(None);
        }
        let token = castellan_crypto::random::alphanumeric(24);
        verifications::insert(
            txn,
            self.domain_token_identifier(provider_id),
            token.clone(),
            now + chrono::Duration::days(DOMAIN_TOKEN_DAYS),
            now,
        )
        .await?;
        Ok(Some(token))
    }

    /// The caller's connections: personal ones, plus those of organizations where casbin grants
    /// the caller `sso:read`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn list(&self, actor: &Actor) -> SsoResult<Vec<Connection>> {
        let mut out: Vec<Connection> = sso_providers::personal(&self.db, actor.user_id())
            .await?
            .into_iter()
            .map(Connection::from_row)
            .collect();
        for org in castellan_authz::repo::organizations_of(&self.db, actor.user_id()).await? {
            // Organizations whose SSO this session did not come through show nothing.
            let Ok(Some(scope)) = self.member_scope(actor, &org.id).await else {
                continue;
            };
            let Some(permit) = self.authz.permit::<grant::SsoRead>(&scope).await? else {
                continue;
            };
            out.extend(
                repo::sso_connections(&self.db, &permit)
                    .await?
                    .into_iter()
                    .map(Connection::from_row),
            );
        }
        Ok(out)
    }

    /// # Errors
    /// 404 / 403 as Better Auth.
    pub async fn get(&self, actor: &Actor, provider_id: &str) -> SsoResult<Connection> {
        let connection = self.connection(provider_id).await?;
        let scope = self.scope_for(actor, &connection.row).await?;
        self.permit::<grant::SsoRead>(scope.as_ref()).await?;
        Ok(connection)
    }

    /// Applies a partial update (`POST /sso/update-provider`).
    ///
    /// # Errors
    /// 400 nothing to update or a bad config; 404/403; 409 when identity fields change while
    /// accounts are linked.
    pub async fn update(&self, actor: &Actor, change: Update) -> SsoResult<Connection> {
        if change.is_empty() {
            return Err(invalid("No fields provided for update"));
        }
        let current = self.connection(&change.provider_id).await?;
        let scope = self.scope_for(actor, &current.row).await?;
        let permit = self.permit::<grant::SsoUpdate>(scope.as_ref()).await?;
        if change.oidc.is_some() && current.oidc.is_none() {
            return Err(invalid(
                "Cannot update OIDC config for a provider that doesn't have OIDC configured",
            ));
        }
        if change.saml.is_some() && current.saml.is_none() {
            return Err(invalid(
                "Cannot update SAML config for a provider that doesn't have SAML configured",
            ));
        }
        let mut row = current.row.clone();
        let mut identity_changed = false;
        if let Some(issuer) = change.issuer {
            url::Url::parse(&issuer).map_err(|_| invalid("[body.issuer] Invalid URL"))?;
            identity_changed |= issuer != row.issuer;
            row.issuer = issuer;
        }
        if let Some(domain) = change.domain {
            if split_domains(&domain).is_empty() {
                return Err(SsoError::coded(Kind::Invalid, "INVALID_DOMAIN", "Invalid domain"));
            }
            if domain != row.domain {
                row.domain = domain;
                row.domain_verified = Some(false);
            }
        }
        if let (Some(patch), Some(existing)) = (change.oidc, current.oidc.as_ref()) {
            let (cfg, moved) = self.patched_oidc(existing, patch, &row.issuer).await?;
            identity_changed |= moved;
            row.oidc_config = Some(json!(cfg).to_string());
        }
        if let (Some(patch), Some(existing)) = (change.saml, current.saml.as_ref()) {
            let (cfg, moved) = self.patched_saml(existing, patch).await?;
            identity_changed |= moved;
            row.saml_config = Some(json!(cfg).to_string());
        }
        let txn = castellan_data::begin_write(&self.db).await?;
        if identity_changed && accounts::any_for_provider(&txn, &row.provider_id).await? {
            return Err(SsoError::new(
                Kind::Conflict,
                "Cannot change SSO provider identity fields while linked accounts exist",
            ));
        }
        let updated = Connection::from_row(repo::update_sso_connection(&txn, permit.as_ref(), row).await?);
        self.audit(
            &txn,
            AuditNote {
                org_id: updated.row.organization_id.as_deref(),
                action: "sso.connection.updated",
                actor_id: Some(actor.user_id().to_owned()),
                target: updated.provider_id(),
                details: json!({ "domain": updated.row.domain, "domainVerified": updated.domain_verified() }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// The SP's signing key, as stored: Better Auth's `spMetadata.privateKey` or
    /// `samlConfig.privateKey`, kept in the latter and sealed like a client secret. Signed
    /// AuthnRequests need one that reads as a PEM RSA or EC key (and `spMetadata.cert`, if given,
    /// as a certificate).
    fn seal_sp_key(&self, cfg: &mut SamlConfig) -> SsoResult<()> {
        let from_sp_metadata = cfg
            .sp_metadata
            .as_mut()
            .and_then(Value::as_object_mut)
            .and_then(|m| m.remove("privateKey"))
            .and_then(|v| v.as_str().map(str::to_owned));
        if cfg.private_key.is_none() {
            cfg.private_key = from_sp_metadata;
        }
        let plain = match cfg.private_key.as_deref() {
            Some(stored) => Some(open_secret(&self.settings.secrets, stored).map_err(SsoError::internal)?),
            None => None,
        };
        if cfg.authn_requests_signed == Some(true) {
            let pem = plain.as_deref().ok_or_else(|| {
                invalid("[body.samlConfig.privateKey] authnRequestsSigned requires the SP's private key")
            })?;
            let cert = cfg
                .sp_metadata
                .as_ref()
                .and_then(|m| m.get("cert"))
                .and_then(Value::as_str);
            crate::saml::SpSigning::from_pem(pem, cert)?;
        }
        if let Some(pem) = plain {
            cfg.private_key = Some(seal_secret(&self.settings.secrets, &pem).map_err(SsoError::internal)?);
        }
        Ok(())
    }

    /// An OIDC configuration with `patch` applied, discovered again and its secret sealed; and
    /// whether the patch moved a field that decides whose accounts the connection vouches for.
    async fn patched_oidc(
        &self,
        existing: &OidcConfig,
        patch: Map<String, Value>,
        issuer: &str,
    ) -> SsoResult<(OidcConfig, bool)> {
        const BOUNDARY: [&str; 7] = [
            "issuer",
            "clientId",
            "authorizationEndpoint",
            "tokenEndpoint",
            "userInfoEndpoint",
            "jwksEndpoint",
            "discoveryEndpoint",
        ];
        let new_secret = patch
            .get("clientSecret")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (merged, moved) = merge_patch(json!(existing), patch, &BOUNDARY, false);
        let mut cfg: OidcConfig =
            serde_json::from_value(merged).map_err(|e| invalid(format!("[body.oidcConfig] {e}")))?;
        issuer.clone_into(&mut cfg.issuer);
        cfg.client_secret = match new_secret {
            Some(secret) => secret,
            None => {
                open_secret(&self.settings.secrets, &existing.client_secret).map_err(SsoError::internal)?
            }
        };
        self.prepare_oidc(&mut cfg).await?;
        cfg.client_secret =
            seal_secret(&self.settings.secrets, &cfg.client_secret).map_err(SsoError::internal)?;
        Ok((cfg, moved))
    }

    /// A SAML configuration with `patch` applied (a `null` removes a field), its metadata fetched
    /// again and checked; and whether the patch moved an identity field.
    async fn patched_saml(
        &self,
        existing: &SamlConfig,
        patch: Map<String, Value>,
    ) -> SsoResult<(SamlConfig, bool)> {
        const BOUNDARY: [&str; 6] = [
            "issuer",
            "audience",
            "callbackUrl",
            "idpMetadata",
            "cert",
            "entryPoint",
        ];
        let (merged, moved) = merge_patch(json!(existing), patch, &BOUNDARY, true);
        let mut cfg: SamlConfig =
            serde_json::from_value(merged).map_err(|e| invalid(format!("[body.samlConfig] {e}")))?;
        self.fetch_idp_metadata(&mut cfg).await?;
        validate_saml(&cfg)?;
        self.seal_sp_key(&mut cfg)?;
        Ok((cfg, moved))
    }

    /// Deletes a connection and every account linked through it.
    ///
    /// # Errors
    /// 404 / 403.
    pub async fn delete(&self, actor: &Actor, provider_id: &str) -> SsoResult<()> {
        let connection = self.connection(provider_id).await?;
        let scope = self.scope_for(actor, &connection.row).await?;
        let permit = self.permit::<grant::SsoDelete>(scope.as_ref()).await?;
        let txn = castellan_data::begin_write(&self.db).await?;
        repo::delete_sso_connection(&txn, permit.as_ref(), &connection.row).await?;
        self.audit(
            &txn,
            AuditNote {
                org_id: connection.row.organization_id.as_deref(),
                action: "sso.connection.deleted",
                actor_id: Some(actor.user_id().to_owned()),
                target: provider_id,
                details: json!({ "type": connection.kind(), "issuer": connection.row.issuer }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}

fn validate_provider_id(id: &str) -> SsoResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "[body.providerId] must be 1 to 64 characters of letters, digits, '-', '_' or '.'",
        ))
    }
}

fn validate_saml(cfg: &SamlConfig) -> SsoResult<()> {
    if cfg.entry_point.is_empty() {
        return Err(invalid(
            "[body.samlConfig.entryPoint] Invalid input: expected string, received undefined",
        ));
    }
    if cfg.callback_url.as_deref().is_some_and(|u| u.contains('#')) {
        return Err(invalid(
            "[body.samlConfig.callbackUrl] callbackUrl must not contain a fragment",
        ));
    }
    TrustedIdp::from_config(cfg)?;
    Ok(())
}

/// `current` with `patch` laid over it (a `null` removes the field when `null_removes`), and
/// whether a `boundary` field changed.
fn merge_patch(
    current: Value,
    patch: Map<String, Value>,
    boundary: &[&str],
    null_removes: bool,
) -> (Value, bool) {
    let mut merged = match current {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut moved = false;
    for (k, v) in patch {
        moved |= boundary.contains(&k.as_str()) && merged.get(&k) != Some(&v);
        if null_removes && v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    (Value::Object(merged), moved)
}
