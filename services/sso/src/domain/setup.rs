//! The self-service setup portal (Castellan's own, beyond Better Auth): an organization owner
//! hands the customer's IT admin a time-limited, single-use link; the IT admin, who has no
//! account, describes their IdP, proves the domain, tests a login and turns the connection on.
//!
//! Until it is turned on, the connection is a draft inside the setup session, never a row of
//! `ssoProvider`: nothing signs anyone in through it (Better Auth, sharing the database, would not
//! know a "pending" flag). A test login runs the real flow against the draft and records who the
//! IdP said signed in, without creating a user or a session.
//!
//! Every step acts with the authority of the owner who made the link, checked again each time:
//! when that person can no longer manage SSO in the organization, the link is dead. Secrets (the
//! link token, the session secret) are stored only as hashes, and every step is audited.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use castellan_authz::{OrgScope, grant};
use castellan_data::entity::{sso_provider, sso_provisioning};
use castellan_data::repo::verifications;

use super::login::{SignIn, Started};
use super::provisioning::{ExternalIdentity, Protocol, mapped_role};
use super::{Actor, AuditNote, Client, SsoService};
use crate::error::{Kind, LoginFailure, SsoError, SsoResult};
use crate::provider::Connection;

const LINK_PREFIX: &str = "sso-setup-link:";
const SESSION_PREFIX: &str = "sso-setup:";
/// How long a setup link stays usable when the owner names no lifetime.
pub const DEFAULT_LINK_HOURS: i64 = 72;
/// The longest lifetime an owner may give a link (30 days).
pub const MAX_LINK_HOURS: i64 = 720;

/// What the setup session remembers between the wizard's steps.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct SetupSession {
    organization_id: String,
    /// The owner (or admin) who made the link: every step acts with their authority.
    created_by: String,
    provider_id: String,
    expires_at: DateTime<Utc>,
    #[serde(default)]
    draft: Option<Draft>,
    #[serde(default)]
    test: Option<TestOutcome>,
}

/// The connection as it will be stored when enabled (configs already validated and sealed).
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Draft {
    protocol: Protocol,
    issuer: String,
    domain: String,
    oidc_config: Option<String>,
    saml_config: Option<String>,
    domain_verified: bool,
    role_mapping: BTreeMap<String, String>,
}

/// Who the IdP said signed in during a test login, or why it failed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TestOutcome {
    pub passed: bool,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    /// The organization role the login would get.
    pub role: Option<String>,
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

/// What the IT admin describes in the wizard.
pub struct DraftInput {
    pub protocol: Protocol,
    pub domain: String,
    /// OIDC: the issuer URL (discovery is fetched from it).
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// SAML: the IdP's metadata, pasted or uploaded, or a URL to fetch it from.
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    /// IdP group → organization role.
    pub role_mapping: BTreeMap<String, String>,
}

/// Everything the wizard shows.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SetupView {
    pub organization_name: String,
    pub provider_id: String,
    pub expires_at: DateTime<Utc>,
    /// What to paste into the IdP.
    pub oidc_redirect_uri: String,
    pub saml_acs_url: String,
    pub saml_entity_id: String,
    pub protocol: Option<Protocol>,
    pub domain: Option<String>,
    pub issuer: Option<String>,
    pub role_mapping: BTreeMap<String, String>,
    /// The TXT record that proves the domain: its name and value.
    pub domain_record: Option<(String, String)>,
    pub domain_verified: bool,
    pub domain_verification_required: bool,
    pub test: Option<TestOutcome>,
    /// Whether every step is done and the connection may be turned on.
    pub ready: bool,
}

fn digest(prefix: &str, secret: &str) -> String {
    format!("{prefix}{}", hex::encode(Sha256::digest(secret.as_bytes())))
}

fn dead_link() -> SsoError {
    SsoError::coded(
        Kind::Unauthenticated,
        "SETUP_LINK_INVALID",
        "This setup link is invalid, already used or expired. Ask for a new one.",
    )
}

fn invalid_input(message: impl Into<String>) -> SsoError {
    SsoError::coded(Kind::Invalid, "VALIDATION_ERROR", message.into())
}

/// A domain as DNS knows it: dot-separated labels of letters, digits and hyphens.
fn is_hostname(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn step_missing(message: &str) -> SsoError {
    SsoError::coded(Kind::Invalid, "SETUP_STEP_MISSING", message.to_owned())
}

impl SsoService {
    /// `POST /sso/setup-link`: a link for an IT admin to set up a connection of the organization
    /// (the caller's active one unless named). Returns the link's token and expiry.
    ///
    /// # Errors
    /// 401 without a session; 403 without `sso:create` in the organization; 400 for a lifetime
    /// outside 1 hour to 30 days.
    pub async fn create_setup_link(
        &self,
        actor: &Actor,
        organization_id: Option<String>,
        hours: Option<i64>,
    ) -> SsoResult<(String, DateTime<Utc>)> {
        let hours = hours.unwrap_or(DEFAULT_LINK_HOURS);
        if !(1..=MAX_LINK_HOURS).contains(&hours) {
            return Err(invalid_input(format!(
                "[body.expiresInHours] must be between 1 and {MAX_LINK_HOURS}"
            )));
        }
        let org_id = organization_id
            .or_else(|| actor.auth.session.active_organization_id.clone())
            .ok_or_else(|| {
                SsoError::coded(Kind::Invalid, "NO_ACTIVE_ORGANIZATION", "No active organization")
            })?;
        let scope = self
            .member_scope(actor, &org_id)
            .await?
            .ok_or_else(super::no_access)?;
        self.permit::<grant::SsoCreate>(Some(&scope)).await?;
        let slug: String = scope
            .organization()
            .slug
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(40)
            .collect();
        let provider_id = format!(
            "{}-{}",
            if slug.is_empty() { "sso" } else { slug.as_str() },
            castellan_crypto::random::alphanumeric(6).to_ascii_lowercase()
        );
        let token = castellan_crypto::random::alphanumeric(40);
        let now = self.now();
        let expires_at = now + chrono::Duration::hours(hours);
        let session = SetupSession {
            organization_id: org_id.clone(),
            created_by: actor.user_id().to_owned(),
            provider_id: provider_id.clone(),
            expires_at,
            draft: None,
            test: None,
        };
        let txn = castellan_data::begin_write(&self.db).await?;
        verifications::insert(
            &txn,
            digest(LINK_PREFIX, &token),
            json!(session).to_string(),
            expires_at,
            now,
        )
        .await?;
        self.audit(
            &txn,
            AuditNote {
                org_id: Some(&org_id),
                action: "sso.setup.link_created",
                actor_id: Some(actor.user_id().to_owned()),
                target: &provider_id,
                details: json!({ "expiresAt": expires_at.to_rfc3339() }),
            },
            &Client::from(actor),
        )
        .await?;
        txn.commit().await?;
        Ok((token, expires_at))
    }

    /// `POST /sso/setup/open`: takes the link (once) and starts a setup session, whose secret the
    /// browser keeps in a cookie. A link opened twice (forwarded, leaked) works only the first time.
    ///
    /// # Errors
    /// 401 `SETUP_LINK_INVALID`; 403 when the link's creator lost the right to set up SSO.
    pub async fn open_setup(&self, token: &str, client: &Client) -> SsoResult<(String, SetupView)> {
        if token.is_empty() || token.len() > 128 {
            return Err(dead_link());
        }
        let now = self.now();
        let row = verifications::consume(&self.db, &digest(LINK_PREFIX, token), now)
            .await?
            .ok_or_else(dead_link)?;
        let session: SetupSession = serde_json::from_str(&row.value).map_err(|_| dead_link())?;
        let scope = self.creator_scope(&session).await?;
        let secret = castellan_crypto::random::alphanumeric(40);
        let txn = castellan_data::begin_write(&self.db).await?;
        verifications::insert(
            &txn,
            digest(SESSION_PREFIX, &secret),
            json!(session).to_string(),
            session.expires_at,
            now,
        )
        .await?;
        self.setup_audit(&txn, &session, "sso.setup.opened", json!({}), client)
            .await?;
        txn.commit().await?;
        let view = self.setup_view(&session, &scope).await?;
        Ok((secret, view))
    }

    /// `GET /sso/setup`: where the wizard stands.
    ///
    /// # Errors
    /// As [`SsoService::open_setup`].
    pub async fn setup_state(&self, secret: &str) -> SsoResult<SetupView> {
        let (_, session) = self.setup_session(secret).await?;
        let scope = self.creator_scope(&session).await?;
        self.setup_view(&session, &scope).await
    }

    /// `POST /sso/setup/connection`: describes the IdP. The configuration is checked exactly as
    /// `sso/register` checks it (discovery, metadata, certificates); saving again replaces the
    /// draft and forgets an earlier test.
    ///
    /// # Errors
    /// As `sso/register` for the configuration; 400 for a role that cannot be granted.
    pub async fn save_setup_connection(
        &self,
        secret: &str,
        input: DraftInput,
        client: &Client,
    ) -> SsoResult<SetupView> {
        let (key, mut session) = self.setup_session(secret).await?;
        let scope = self.creator_scope(&session).await?;
        let domain = input.domain.trim().to_ascii_lowercase();
        if !is_hostname(&domain) {
            return Err(SsoError::coded(Kind::Invalid, "INVALID_DOMAIN", "Invalid domain"));
        }
        self.check_grantable(Some(&scope), input.role_mapping.values())
            .await?;
        let (issuer, oidc_config, saml_config) = match input.protocol {
            Protocol::Oidc => {
                let present = |v: Option<String>, name: &str| {
                    v.filter(|v| !v.trim().is_empty())
                        .ok_or_else(|| invalid_input(format!("[body.{name}] is required for OpenID Connect")))
                };
                let issuer = present(input.issuer, "issuer")?;
                url::Url::parse(&issuer).map_err(|_| invalid_input("[body.issuer] Invalid URL"))?;
                let mut config = Map::new();
                config.insert("clientId".into(), json!(present(input.client_id, "clientId")?));
                config.insert(
                    "clientSecret".into(),
                    json!(present(input.client_secret, "clientSecret")?),
                );
                let mut scopes = vec!["openid", "email", "profile"];
                if !input.role_mapping.is_empty() {
                    scopes.push("groups");
                }
                config.insert("scopes".into(), json!(scopes));
                let (stored, _) = self.oidc_to_store(config, &issuer, None).await?;
                (issuer, Some(json!(stored).to_string()), None)
            }
            Protocol::Saml => {
                let entity_id = self.setup_entity_id(&session.provider_id);
                let metadata = match (
                    input.metadata_xml.filter(|x| !x.trim().is_empty()),
                    input.metadata_url,
                ) {
                    (Some(xml), _) => json!({ "metadata": xml }),
                    (None, Some(url)) if !url.trim().is_empty() => json!({ "metadataUrl": url }),
                    _ => {
                        return Err(invalid_input(
                            "[body.metadataXml] the IdP's metadata (or a URL to it) is required",
                        ));
                    }
                };
                let mut config = Map::new();
                config.insert("idpMetadata".into(), metadata);
                let stored = self.saml_to_store_from_metadata(config, &entity_id).await?;
                (entity_id, None, Some(json!(stored).to_string()))
            }
        };
        // A domain already proven stays proven while it does not change.
        let domain_verified = session
            .draft
            .as_ref()
            .is_some_and(|d| d.domain_verified && d.domain == domain);
        session.draft = Some(Draft {
            protocol: input.protocol,
            issuer,
            domain: domain.clone(),
            oidc_config,
            saml_config,
            domain_verified,
            role_mapping: input.role_mapping,
        });
        session.test = None;
        let txn = castellan_data::begin_write(&self.db).await?;
        verifications::replace_value(&txn, &key, json!(session).to_string()).await?;
        if !domain_verified {
            self.fresh_domain_token(&txn, &session.provider_id).await?;
        }
        let draft = session
            .draft
            .as_ref()
            .ok_or_else(|| SsoError::internal("draft just set"))?;
        self.setup_audit(
            &txn,
            &session,
            "sso.setup.connection_saved",
            json!({ "protocol": draft.protocol.name(), "domain": draft.domain, "issuer": draft.issuer, "roleMapping": draft.role_mapping }),
            client,
        )
        .await?;
        txn.commit().await?;
        self.setup_view(&session, &scope).await
    }

    /// `POST /sso/setup/verify-domain`: looks the TXT record up.
    ///
    /// # Errors
    /// 400 `SETUP_STEP_MISSING` before the connection is described; 502
    /// `DOMAIN_VERIFICATION_FAILED` when the record is not (yet) there.
    pub async fn verify_setup_domain(&self, secret: &str, client: &Client) -> SsoResult<SetupView> {
        let (key, mut session) = self.setup_session(secret).await?;
        let scope = self.creator_scope(&session).await?;
        let draft = session
            .draft
            .clone()
            .ok_or_else(|| step_missing("Describe the connection first"))?;
        if !draft.domain_verified {
            let identifier = self.domain_token_identifier(&session.provider_id);
            let token = verifications::peek(&self.db, &identifier, self.now())
                .await?
                .ok_or_else(|| step_missing("Save the connection again for a new verification record"))?
                .value;
            let domains = crate::provider::split_domains(&draft.domain);
            if let Err((domain, records)) = self.txt_proves(&identifier, &token, &domains).await? {
                self.setup_audit(
                    &self.db,
                    &session,
                    "sso.setup.domain_verification_failed",
                    json!({ "domain": domain, "records": records }),
                    client,
                )
                .await?;
                return Err(SsoError::coded(
                    Kind::Upstream,
                    "DOMAIN_VERIFICATION_FAILED",
                    format!(
                        "The TXT record was not found for {domain}. DNS changes can take a few minutes; try again."
                    ),
                ));
            }
            if let Some(d) = session.draft.as_mut() {
                d.domain_verified = true;
            }
            let txn = castellan_data::begin_write(&self.db).await?;
            verifications::replace_value(&txn, &key, json!(session).to_string()).await?;
            self.setup_audit(
                &txn,
                &session,
                "sso.setup.domain_verified",
                json!({ "domains": domains }),
                client,
            )
            .await?;
            txn.commit().await?;
        }
        self.setup_view(&session, &scope).await
    }

    /// `POST /sso/setup/test`: starts a login against the draft. It ends back on the wizard's
    /// page (`/sso-setup`), with the outcome in the session, and signs no one in.
    ///
    /// # Errors
    /// 400 `SETUP_STEP_MISSING` before the connection is described.
    pub async fn begin_setup_test(&self, secret: &str, client: &Client) -> SsoResult<Started> {
        let (key, session) = self.setup_session(secret).await?;
        self.creator_scope(&session).await?;
        let connection = self
            .draft_connection(&session)
            .ok_or_else(|| step_missing("Describe the connection first"))?;
        let started = self
            .begin_flow(
                &connection,
                SignIn {
                    callback_url: "/sso-setup".to_owned(),
                    email: None,
                    organization_slug: None,
                    provider_id: None,
                    domain: None,
                    error_callback_url: None,
                    new_user_callback_url: None,
                    scopes: None,
                    login_hint: None,
                    provider_type: None,
                    additional_params: Vec::new(),
                },
                Some(key),
            )
            .await?;
        self.setup_audit(&self.db, &session, "sso.setup.test_started", json!({}), client)
            .await?;
        Ok(started)
    }

    /// `POST /sso/setup/enable`: stores the connection and its role mapping, ends the setup
    /// session. Needs the domain proven (when verification is on) and a passed test.
    ///
    /// # Errors
    /// 400 `SETUP_STEP_MISSING`; 422 when the provider id was taken meanwhile.
    pub async fn enable_setup(&self, secret: &str, client: &Client) -> SsoResult<String> {
        let (key, session) = self.setup_session(secret).await?;
        let scope = self.creator_scope(&session).await?;
        let view = self.setup_view(&session, &scope).await?;
        if !view.ready {
            return Err(step_missing(
                "Verify the domain and pass a test login before turning the connection on",
            ));
        }
        let draft = session
            .draft
            .clone()
            .ok_or_else(|| step_missing("Describe the connection first"))?;
        let create = self.permit::<grant::SsoCreate>(Some(&scope)).await?;
        let update = self.permit::<grant::SsoUpdate>(Some(&scope)).await?;
        let row = self.draft_row(&session, &draft);
        let txn = castellan_data::begin_write(&self.db).await?;
        let stored = castellan_authz::repo::insert_sso_connection(&txn, create.as_ref(), row)
            .await
            .map_err(|e| match castellan_data::DataError::from(e) {
                castellan_data::DataError::Conflict => SsoError::new(
                    Kind::Unprocessable,
                    "SSO provider with this providerId already exists",
                ),
                other => other.into(),
            })?;
        castellan_authz::repo::save_sso_provisioning(
            &txn,
            update.as_ref(),
            &stored,
            sso_provisioning::Model {
                provider_id: stored.provider_id.clone(),
                default_role: self.settings.sso.default_role.clone(),
                groups_claim: Some("groups".to_owned()),
                role_mapping: json!(draft.role_mapping).to_string(),
                allow_idp_initiated: false,
                updated_at: self.now(),
            },
        )
        .await?;
        verifications::delete(&txn, &key).await?;
        verifications::delete(&txn, &self.domain_token_identifier(&session.provider_id)).await?;
        self.setup_audit(
            &txn,
            &session,
            "sso.setup.enabled",
            json!({ "protocol": draft.protocol.name(), "domain": draft.domain }),
            client,
        )
        .await?;
        txn.commit().await?;
        Ok(stored.provider_id)
    }

    /// `GET /sso/setup/sp-metadata`: the SP metadata to give a SAML IdP, before the connection
    /// exists (its permanent address, `sso/saml2/sp/metadata`, answers once it is on).
    ///
    /// # Errors
    /// As [`SsoService::setup_state`].
    pub async fn setup_sp_metadata(&self, secret: &str) -> SsoResult<String> {
        let (_, session) = self.setup_session(secret).await?;
        self.creator_scope(&session).await?;
        crate::saml::ServiceProviderConfig {
            entity_id: self.setup_entity_id(&session.provider_id),
            acs_url: format!("{}/sso/saml2/sp/acs/{}", self.auth_url(), session.provider_id),
            audience: None,
            name_id_format: crate::saml::default_name_id_format(),
            clock_skew: self.settings.sso.clock_skew,
            want_assertions_signed: false,
            signing: None,
        }
        .metadata_xml()
    }

    /// Records a test login's outcome in the setup session named by `key` (the flow's): who the
    /// IdP vouched for and the role the draft's mapping gives them, or why it failed.
    pub(crate) async fn record_setup_test(
        &self,
        key: &str,
        identity: Result<ExternalIdentity, LoginFailure>,
        client: &Client,
    ) {
        let recorded = async {
            let Some(row) = verifications::peek(&self.db, key, self.now()).await? else {
                return Ok::<_, SsoError>(());
            };
            let mut session: SetupSession = serde_json::from_str(&row.value).map_err(SsoError::internal)?;
            let outcome = match identity {
                Ok(identity) => {
                    let mapping = session.draft.as_ref().map(|d| &d.role_mapping);
                    TestOutcome {
                        passed: true,
                        role: Some(
                            mapping
                                .and_then(|m| mapped_role(m, &identity.groups))
                                .unwrap_or_else(|| self.settings.sso.default_role.clone()),
                        ),
                        email: Some(identity.email),
                        name: Some(identity.name),
                        groups: identity.groups,
                        error: None,
                        at: self.now(),
                    }
                }
                Err(failure) => TestOutcome {
                    passed: false,
                    email: None,
                    name: None,
                    groups: Vec::new(),
                    role: None,
                    error: Some(format!("{}: {}", failure.code, failure.description)),
                    at: self.now(),
                },
            };
            let details = json!(outcome);
            session.test = Some(outcome);
            let txn = castellan_data::begin_write(&self.db).await?;
            verifications::replace_value(&txn, key, json!(session).to_string()).await?;
            self.setup_audit(&txn, &session, "sso.setup.tested", details, client)
                .await?;
            txn.commit().await?;
            Ok(())
        };
        if let Err(e) = recorded.await {
            tracing::error!(error = %e, "recording an SSO setup test failed");
        }
    }

    /// The draft connection of the setup session named by `key`, for a test login's second leg.
    pub(crate) async fn setup_connection(&self, key: &str) -> Option<Connection> {
        let row = verifications::peek(&self.db, key, self.now()).await.ok()??;
        let session: SetupSession = serde_json::from_str(&row.value).ok()?;
        self.draft_connection(&session)
    }

    async fn setup_session(&self, secret: &str) -> SsoResult<(String, SetupSession)> {
        if secret.is_empty() || secret.len() > 128 {
            return Err(dead_link());
        }
        let key = digest(SESSION_PREFIX, secret);
        let row = verifications::peek(&self.db, &key, self.now())
            .await?
            .ok_or_else(dead_link)?;
        let session = serde_json::from_str(&row.value).map_err(|_| dead_link())?;
        Ok((key, session))
    }

    /// The link creator's membership, if they may still set up SSO in the organization.
    async fn creator_scope(&self, session: &SetupSession) -> SsoResult<OrgScope> {
        let revoked = || {
            SsoError::coded(
                Kind::Denied,
                "SETUP_LINK_REVOKED",
                "The person who created this link can no longer set up SSO for the organization",
            )
        };
        let scope = self
            .authz
            .scope(&self.db, &session.organization_id, &session.created_by)
            .await?
            .ok_or_else(revoked)?;
        if self.authz.permit::<grant::SsoCreate>(&scope).await?.is_none() {
            return Err(revoked());
        }
        Ok(scope)
    }

    async fn setup_view(&self, session: &SetupSession, scope: &OrgScope) -> SsoResult<SetupView> {
        let auth = self.auth_url();
        let provider_id = &session.provider_id;
        let draft = session.draft.as_ref();
        let verification_required = self.settings.sso.domain_verification;
        let domain_record = match draft {
            Some(d) if !d.domain_verified && verification_required => {
                let identifier = self.domain_token_identifier(provider_id);
                verifications::peek(&self.db, &identifier, self.now())
                    .await?
                    .map(|row| {
                        let first = crate::provider::split_domains(&d.domain)
                            .into_iter()
                            .next()
                            .unwrap_or_default();
                        (
                            format!("{identifier}.{first}"),
                            format!("{identifier}={}", row.value),
                        )
                    })
            }
            _ => None,
        };
        let domain_verified = draft.is_some_and(|d| d.domain_verified);
        let test = session.test.clone();
        let ready = draft.is_some()
            && (domain_verified || !verification_required)
            && test.as_ref().is_some_and(|t| t.passed);
        Ok(SetupView {
            organization_name: scope.organization().name.clone(),
            provider_id: provider_id.clone(),
            expires_at: session.expires_at,
            oidc_redirect_uri: self.oidc_redirect_uri(provider_id),
            saml_acs_url: format!("{auth}/sso/saml2/sp/acs/{provider_id}"),
            saml_entity_id: self.setup_entity_id(provider_id),
            protocol: draft.map(|d| d.protocol),
            domain: draft.map(|d| d.domain.clone()),
            issuer: draft.map(|d| d.issuer.clone()),
            role_mapping: draft.map(|d| d.role_mapping.clone()).unwrap_or_default(),
            domain_record,
            domain_verified,
            domain_verification_required: verification_required,
            test,
            ready,
        })
    }

    /// The SP entity id a wizard-made SAML connection uses: its metadata URL.
    fn setup_entity_id(&self, provider_id: &str) -> String {
        format!(
            "{}/sso/saml2/sp/metadata?providerId={provider_id}",
            self.auth_url()
        )
    }

    fn draft_row(&self, session: &SetupSession, draft: &Draft) -> sso_provider::Model {
        sso_provider::Model {
            id: castellan_crypto::random::generate_id(),
            issuer: draft.issuer.clone(),
            oidc_config: draft.oidc_config.clone(),
            saml_config: draft.saml_config.clone(),
            user_id: session.created_by.clone(),
            provider_id: session.provider_id.clone(),
            organization_id: Some(session.organization_id.clone()),
            domain: draft.domain.clone(),
            domain_verified: Some(draft.domain_verified),
        }
    }

    fn draft_connection(&self, session: &SetupSession) -> Option<Connection> {
        let draft = session.draft.as_ref()?;
        Some(Connection::from_row(self.draft_row(session, draft)))
    }

    /// A new domain-verification token for the draft, replacing any earlier one.
    async fn fresh_domain_token(
        &self,
        txn: &castellan_data::DatabaseTransaction,
        provider_id: &str,
    ) -> SsoResult<()> {
        verifications::delete(txn, &self.domain_token_identifier(provider_id)).await?;
        self.domain_token(txn, provider_id, self.now()).await?;
        Ok(())
    }

    async fn setup_audit(
        &self,
        db: &(impl castellan_data::ConnectionTrait + castellan_data::TransactionTrait),
        session: &SetupSession,
        action: &'static str,
        details: Value,
        client: &Client,
    ) -> SsoResult<()> {
        self.audit(
            db,
            AuditNote {
                org_id: Some(&session.organization_id),
                action,
                // The IT admin has no account: steps are recorded under the link's creator, with
                // the IT admin's address and agent.
                actor_id: Some(session.created_by.clone()),
                target: &session.provider_id,
                details,
            },
            client,
        )
        .await
    }
}
