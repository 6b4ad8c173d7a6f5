//! Registering and managing SSO connections (Better Auth's `sso/register`, `sso/providers`,
//! `sso/get-provider`, `sso/update-provider`, `sso/delete-provider`), plus Castellan's
//! per-connection provisioning settings.

use castellan_authz::grant;
use std::collections::BTreeMap;
use std::net::IpAddr;

use castellan_authz::repo;
use serde_json::{Map, Value, json};

use castellan_data::DataError;
use castellan_data::entity::{sso_provider, sso_provisioning};
use castellan_data::repo::{accounts, sso_providers, verifications};

use super::{Actor, AuditNote, Client, SsoService};
use crate::connection::{Connection, OidcConfig, SamlConfig, open_secret, seal_secret, split_domains};
use crate::error::{Kind, SsoError, SsoResult};
use crate::oidc::RelyingParty;
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

    fn idp_origins(&self) -> castellan_http::origin::TrustedOrigins {
        let extra: Vec<String> = self
            .settings
            .trusted_origins
            .iter()
            .chain(&self.settings.sso.trusted_idp_origins)
            .cloned()
            .collect();
        castellan_http::origin::TrustedOrigins::new(self.settings.origin(), &extra)
    }

    /// IdP endpoints are fetched server-side: they must be http(s), and a loopback, private or
    /// link-local host only when its origin is trusted (`SSO_TRUSTED_IDP_ORIGINS`).
    pub(crate) fn check_fetchable(&self, url: &str) -> SsoResult<()> {
        let parsed = url::Url::parse(url).map_err(|_| {
            SsoError::coded(
                Kind::Invalid,
                "discovery_invalid_url",
                format!("Invalid URL: {url}"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SsoError::coded(
                Kind::Invalid,
                "discovery_invalid_url",
                format!("Only http(s) URLs are allowed: {url}"),
            ));
        }
        let private = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => is_private(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => is_private(IpAddr::V6(ip)),
            Some(url::Host::Domain(d)) => {
                let d = d.to_ascii_lowercase();
                d == "localhost"
                    || d.ends_with(".localhost")
                    || d.ends_with(".internal")
                    || d.ends_with(".local")
            }
            None => true,
        };
        if private && !self.idp_origins().trusts_url(url) {
            return Err(SsoError::coded(
                Kind::Invalid,
                "discovery_private_host",
                format!("{url} is not a public host; add its origin to SSO_TRUSTED_IDP_ORIGINS"),
            ));
        }
        Ok(())
    }

    /// Registers a connection (`POST /sso/register`).
    ///
    /// # Errors
    /// 401/403/400/422 as Better Auth; 400 for a configuration Castellan cannot use safely.
    pub async fn register(
        &self,
        actor: &Actor,
        reg: Registration,
        rp: &RelyingParty,
    ) -> SsoResult<Registered> {
        let scope = match &reg.organization_id {
            Some(org_id) => Some(
                self.authz
                    .scope(&self.db, org_id, actor.user_id())
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

        let mut client_secret = None;
        let oidc = match reg.oidc {
            Some(input) => {
                let mut cfg: OidcConfig = serde_json::from_value(Value::Object(input))
                    .map_err(|e| invalid(format!("[body.oidcConfig] {e}")))?;
                cfg.issuer.clone_from(&reg.issuer);
                if let Some(over) = reg.override_user_info {
                    cfg.override_user_info = Some(over);
                }
                self.prepare_oidc(&mut cfg, rp).await?;
                client_secret = Some(cfg.client_secret.clone());
                cfg.client_secret =
                    seal_secret(&self.settings.secret, &cfg.client_secret).map_err(SsoError::internal)?;
                Some(cfg)
            }
            None => None,
        };
        let saml = match reg.saml {
            Some(input) => {
                let mut cfg: SamlConfig = serde_json::from_value(Value::Object(input))
                    .map_err(|e| invalid(format!("[body.samlConfig] {e}")))?;
                if cfg.issuer.is_empty() {
                    cfg.issuer.clone_from(&reg.issuer);
                }
                self.fetch_idp_metadata(&mut cfg, rp).await?;
                validate_saml(&cfg)?;
                Some(cfg)
            }
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
        let token = if self.settings.sso.domain_verification {
            let token = castellan_crypto::random::alphanumeric(24);
            verifications::insert(
                &txn,
                self.domain_token_identifier(&stored.provider_id),
                token.clone(),
                now + chrono::Duration::days(DOMAIN_TOKEN_DAYS),
                now,
            )
            .await?;
            Some(token)
        } else {
            None
        };
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

    /// `idpMetadata.metadataUrl` (Castellan's addition): the IdP metadata is fetched once and
    /// stored as `idpMetadata.metadata`, so logins never depend on the URL answering.
    async fn fetch_idp_metadata(&self, cfg: &mut SamlConfig, rp: &RelyingParty) -> SsoResult<()> {
        let Some(idp) = cfg.idp_metadata.as_mut() else {
            return Ok(());
        };
        let Some(url) = idp
            .other
            .get("metadataUrl")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Ok(());
        };
        if idp.metadata.is_none() {
            self.check_fetchable(&url)?;
            idp.metadata = Some(rp.fetch_document(&url, crate::saml::MAX_METADATA_BYTES).await?);
        }
        Ok(())
    }

    /// Discovery (unless every endpoint is given) and the endpoint policy.
    async fn prepare_oidc(&self, cfg: &mut OidcConfig, rp: &RelyingParty) -> SsoResult<()> {
        if cfg.client_id.is_empty() {
            return Err(invalid(
                "[body.oidcConfig.clientId] Invalid input: expected string, received undefined",
            ));
        }
        if cfg.client_secret.is_empty() {
            return Err(invalid("clientSecret is required"));
        }
        if let Some(mapping) = &cfg.mapping
            && mapping.id.is_some()
        {
            return Err(invalid("The subject (id) cannot be remapped"));
        }
        for url in [
            &cfg.authorization_endpoint,
            &cfg.token_endpoint,
            &cfg.user_info_endpoint,
            &cfg.jwks_endpoint,
            &cfg.discovery_endpoint,
        ]
        .into_iter()
        .flatten()
        {
            self.check_fetchable(url)?;
        }
        let complete = cfg.authorization_endpoint.is_some()
            && cfg.token_endpoint.is_some()
            && cfg.jwks_endpoint.is_some();
        let skip = cfg.other.get("skipDiscovery").and_then(Value::as_bool) == Some(true);
        if !(complete || skip) {
            let discovery_url = cfg.discovery_endpoint.clone().unwrap_or_else(|| {
                format!(
                    "{}/.well-known/openid-configuration",
                    cfg.issuer.trim_end_matches('/')
                )
            });
            self.check_fetchable(&discovery_url)?;
            let found = rp.discover(&cfg.issuer, Some(&discovery_url)).await?;
            for url in [
                &found.authorization_endpoint,
                &found.token_endpoint,
                &found.jwks_endpoint,
            ]
            .into_iter()
            .chain(found.user_info_endpoint.as_ref())
            {
                self.check_fetchable(url)?;
            }
            cfg.discovery_endpoint = Some(discovery_url);
            cfg.authorization_endpoint
                .get_or_insert(found.authorization_endpoint);
            cfg.token_endpoint.get_or_insert(found.token_endpoint);
            cfg.jwks_endpoint.get_or_insert(found.jwks_endpoint);
            if cfg.user_info_endpoint.is_none() {
                cfg.user_info_endpoint = found.user_info_endpoint;
            }
            cfg.token_endpoint_authentication
                .get_or_insert(found.token_endpoint_authentication);
        }
        match cfg.token_endpoint_authentication.as_deref() {
            None => cfg.token_endpoint_authentication = Some("client_secret_basic".to_owned()),
            Some("client_secret_basic" | "client_secret_post") => {}
            Some(other) => {
                return Err(invalid(format!(
                    "tokenEndpointAuthentication {other:?} is not supported (client_secret_basic or client_secret_post)"
                )));
            }
        }
        cfg.override_user_info.get_or_insert(false);
        Ok(())
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
            let Some(scope) = self.authz.scope(&self.db, &org.id, actor.user_id()).await? else {
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
    pub async fn update(&self, actor: &Actor, change: Update, rp: &RelyingParty) -> SsoResult<Connection> {
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
            const BOUNDARY: [&str; 7] = [
                "issuer",
                "clientId",
                "authorizationEndpoint",
                "tokenEndpoint",
                "userInfoEndpoint",
                "jwksEndpoint",
                "discoveryEndpoint",
            ];
            let mut merged = match json!(existing) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            let new_secret = patch
                .get("clientSecret")
                .and_then(Value::as_str)
                .map(str::to_owned);
            for (k, v) in patch {
                identity_changed |= BOUNDARY.contains(&k.as_str()) && merged.get(&k) != Some(&v);
                merged.insert(k, v);
            }
            let mut cfg: OidcConfig = serde_json::from_value(Value::Object(merged))
                .map_err(|e| invalid(format!("[body.oidcConfig] {e}")))?;
            cfg.issuer.clone_from(&row.issuer);
            cfg.client_secret = match new_secret {
                Some(secret) => secret,
                None => {
                    open_secret(&self.settings.secret, &existing.client_secret).map_err(SsoError::internal)?
                }
            };
            self.prepare_oidc(&mut cfg, rp).await?;
            cfg.client_secret =
                seal_secret(&self.settings.secret, &cfg.client_secret).map_err(SsoError::internal)?;
            row.oidc_config = Some(json!(cfg).to_string());
        }
        if let (Some(patch), Some(existing)) = (change.saml, current.saml.as_ref()) {
            const BOUNDARY: [&str; 6] = [
                "issuer",
                "audience",
                "callbackUrl",
                "idpMetadata",
                "cert",
                "entryPoint",
            ];
            let mut merged = match json!(existing) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            for (k, v) in patch {
                identity_changed |= BOUNDARY.contains(&k.as_str()) && merged.get(&k) != Some(&v);
                if v.is_null() {
                    merged.remove(&k);
                } else {
                    merged.insert(k, v);
                }
            }
            let mut cfg: SamlConfig = serde_json::from_value(Value::Object(merged))
                .map_err(|e| invalid(format!("[body.samlConfig] {e}")))?;
            self.fetch_idp_metadata(&mut cfg, rp).await?;
            validate_saml(&cfg)?;
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

    /// The provisioning settings in force for a connection (defaults when none were saved).
    ///
    /// # Errors
    /// Database failures.
    pub async fn provisioning_of(&self, provider_id: &str) -> SsoResult<Provisioning> {
        let saved = sso_providers::provisioning(&self.db, provider_id).await?;
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
        let roles: Vec<&String> = std::iter::once(&settings.default_role)
            .chain(settings.role_mapping.values())
            .collect();
        for role in roles {
            if role == castellan_authz::permissions::CREATOR_ROLE {
                return Err(invalid("The owner role cannot be granted through SSO"));
            }
            let known = castellan_authz::permissions::BUILTIN_ROLES.contains(&role.as_str())
                || match &scope {
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
    if cfg.authn_requests_signed == Some(true) {
        return Err(invalid(
            "Signed AuthnRequests are not supported yet: set authnRequestsSigned to false",
        ));
    }
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

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}
