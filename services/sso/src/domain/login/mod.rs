//! The browser login: `sign-in/sso` picks a connection and sends the user to the IdP; the OIDC
//! callback and the SAML ACS check what comes back, provision the user and open a session.
//! Flow state lives in the `verification` table (shared by every replica), bound to the
//! browser by a signed cookie for OIDC.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use castellan_data::repo::{organizations, sso_providers, verifications};

use super::SsoService;
use super::provisioning::Protocol;
use crate::error::{Kind, LoginFailure, SsoError, SsoResult};
use crate::provider::{Connection, open_secret};
use castellan_oauth::{AuthorizationRequest, DEFAULT_SCOPES, RESERVED_PARAMS, with_params};
mod conclude;
mod oidc;
mod saml;

use crate::saml::{ServiceProviderConfig, SpSigning, TrustedIdp, default_name_id_format};

/// How long a started login may take.
const FLOW_TTL_MINUTES: i64 = 10;
/// How long an AuthnRequest may stay unanswered (Better Auth's `requestTTL`).
const AUTHN_REQUEST_TTL_MINUTES: i64 = 5;

pub struct SignIn {
    pub callback_url: String,
    pub email: Option<String>,
    pub organization_slug: Option<String>,
    pub provider_id: Option<String>,
    pub domain: Option<String>,
    pub error_callback_url: Option<String>,
    pub new_user_callback_url: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub login_hint: Option<String>,
    pub provider_type: Option<String>,
    pub additional_params: Vec<(String, String)>,
}

/// Where to send the browser, and the state to bind to it (OIDC only).
pub struct Started {
    pub url: String,
    pub state_cookie: Option<String>,
}

/// What the login flow remembers between the two legs.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowState {
    protocol: Protocol,
    provider_id: String,
    callback_url: String,
    error_url: Option<String>,
    new_user_url: Option<String>,
    code_verifier: Option<String>,
    nonce: Option<String>,
    /// The connection's configuration when the login started: a change meanwhile aborts it.
    fingerprint: String,
    /// A setup portal's test login: the setup session whose draft it runs against. It signs no
    /// one in; its outcome goes back to the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    setup: Option<String>,
}

/// What the IdP vouched for, checked, before anyone is provisioned.
struct Vouched {
    identity: crate::domain::provisioning::ExternalIdentity,
    override_profile: bool,
    settings: crate::domain::connections::Provisioning,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingAuthnRequest {
    provider_id: String,
}

/// How a login ended: a session token and where to go, or where to show the error.
pub enum Finished {
    SignedIn {
        session_token: String,
        redirect: String,
    },
    Failed {
        redirect: String,
    },
    /// A setup portal's test login ended (either way): back to the wizard.
    Tested {
        redirect: String,
    },
}

pub struct OidcCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// SHA-256 over the parts of a connection a login depends on (secrets left out).
fn fingerprint(connection: &Connection) -> String {
    let mut oidc = connection.oidc.clone();
    if let Some(o) = oidc.as_mut() {
        o.client_secret.clear();
    }
    let mut saml = connection.saml.clone();
    if let Some(s) = saml.as_mut() {
        s.private_key = None;
    }
    let canonical = json!([
        connection.row.issuer,
        connection.row.domain,
        connection.row.domain_verified,
        connection.row.organization_id,
        oidc,
        saml,
    ]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

impl SsoService {
    /// Better Auth's provider choice: by `providerId`, else by organization slug, else by email
    /// domain (exact column match, then any connection whose domain list covers it).
    async fn pick(&self, req: &SignIn) -> SsoResult<Connection> {
        let domain = req.domain.clone().or_else(|| {
            req.email
                .as_deref()
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase())
        });
        if req.provider_id.is_none() && req.organization_slug.is_none() && domain.is_none() {
            return Err(SsoError::new(
                Kind::Invalid,
                "email, organizationSlug, domain or providerId is required",
            ));
        }
        let not_found = || SsoError::new(Kind::Missing, "No provider found for the issuer");
        let row = if let Some(provider_id) = &req.provider_id {
            sso_providers::find_by_provider_id(&self.db, provider_id).await?
        } else if let Some(slug) = &req.organization_slug {
            match organizations::find_by_slug(&self.db, slug).await? {
                Some(org) => sso_providers::for_organization(&self.db, &org.id)
                    .await?
                    .into_iter()
                    .next(),
                None => None,
            }
        } else {
            let domain = domain.unwrap_or_default();
            let covering: Vec<Connection> = sso_providers::possibly_covering(&self.db, &domain)
                .await?
                .into_iter()
                .map(Connection::from_row)
                .filter(|c| c.covers(&domain))
                .collect();
            // A connection that proved the domain wins over any that merely claims it.
            covering
                .iter()
                .find(|c| c.domain_verified())
                .or(covering.first())
                .map(|c| c.row.clone())
        };
        let connection = Connection::from_row(row.ok_or_else(not_found)?);
        match req.provider_type.as_deref() {
            Some("oidc") if connection.oidc.is_none() => {
                return Err(SsoError::new(Kind::Invalid, "OIDC provider is not configured"));
            }
            Some("saml") if connection.saml.is_none() => {
                return Err(SsoError::new(Kind::Invalid, "SAML provider is not configured"));
            }
            _ => {}
        }
        self.require_verified_domain(&connection)?;
        Ok(connection)
    }

    fn require_verified_domain(&self, connection: &Connection) -> SsoResult<()> {
        if self.settings.sso.domain_verification && !connection.domain_verified() {
            return Err(SsoError::new(
                Kind::Unauthenticated,
                "Provider domain has not been verified",
            ));
        }
        Ok(())
    }

    pub(crate) fn oidc_redirect_uri(&self, provider_id: &str) -> String {
        format!("{}/sso/callback/{provider_id}", self.auth_url())
    }

    /// The SP side of a SAML connection; `None` for an OIDC one.
    ///
    /// # Errors
    /// A stored signing key that no longer opens or parses.
    pub(crate) fn sp_config(&self, connection: &Connection) -> SsoResult<Option<ServiceProviderConfig>> {
        let Some(saml) = connection.saml.as_ref() else {
            return Ok(None);
        };
        let entity_id = saml
            .sp_metadata
            .as_ref()
            .and_then(|m| m.get("entityID"))
            .and_then(Value::as_str)
            .map_or_else(|| saml.issuer.clone(), str::to_owned);
        let signing = if saml.authn_requests_signed == Some(true) {
            let sealed = saml
                .private_key
                .as_deref()
                .ok_or_else(|| SsoError::internal("authnRequestsSigned without a stored privateKey"))?;
            let pem = open_secret(&self.settings.secrets, sealed).map_err(SsoError::internal)?;
            let cert = saml
                .sp_metadata
                .as_ref()
                .and_then(|m| m.get("cert"))
                .and_then(Value::as_str);
            Some(SpSigning::from_pem(&pem, cert)?)
        } else {
            None
        };
        Ok(Some(ServiceProviderConfig {
            entity_id,
            acs_url: format!(
                "{}/sso/saml2/sp/acs/{}",
                self.auth_url(),
                connection.provider_id()
            ),
            audience: saml.audience.clone(),
            name_id_format: saml
                .identifier_format
                .clone()
                .unwrap_or_else(default_name_id_format),
            clock_skew: self.settings.sso.clock_skew,
            want_assertions_signed: saml.want_assertions_signed.unwrap_or(false),
            signing,
        }))
    }

    /// The SP metadata a SAML connection publishes for its IdP.
    ///
    /// # Errors
    /// 404 for an unknown (or non-SAML) connection.
    pub async fn sp_metadata(&self, provider_id: &str) -> SsoResult<String> {
        let not_found = || SsoError::new(Kind::Missing, "No provider found for the given providerId");
        let connection = sso_providers::find_by_provider_id(&self.db, provider_id)
            .await?
            .map(Connection::from_row)
            .ok_or_else(not_found)?;
        let sp = self.sp_config(&connection)?.ok_or_else(not_found)?;
        sp.metadata_xml()
    }

    /// `POST /sign-in/sso`: the IdP URL to send the browser to.
    ///
    /// # Errors
    /// Better Auth's: 400 nothing to pick by, 404 no connection, 401 domain not verified.
    pub async fn begin_sign_in(&self, req: SignIn) -> SsoResult<Started> {
        let connection = self.pick(&req).await?;
        self.begin_flow(&connection, req, None).await
    }

    /// Sends the browser to the IdP of `connection`; `setup` names the setup session of a
    /// portal's test login.
    pub(crate) async fn begin_flow(
        &self,
        connection: &Connection,
        req: SignIn,
        setup: Option<String>,
    ) -> SsoResult<Started> {
        let state = castellan_crypto::random::alphanumeric(32);
        let use_saml = connection.oidc.is_none() || req.provider_type.as_deref() == Some("saml");
        let mut flow = FlowState {
            protocol: if use_saml { Protocol::Saml } else { Protocol::Oidc },
            provider_id: connection.provider_id().to_owned(),
            callback_url: req.callback_url.clone(),
            error_url: req.error_callback_url.clone(),
            new_user_url: req.new_user_callback_url.clone(),
            code_verifier: None,
            nonce: None,
            fingerprint: fingerprint(connection),
            setup,
        };
        let now = self.now();
        let (url, cookie) = if use_saml {
            let saml = connection
                .saml
                .as_ref()
                .ok_or_else(|| SsoError::new(Kind::Invalid, "SAML provider is not configured"))?;
            let idp = TrustedIdp::from_config(saml)?;
            let sp = self
                .sp_config(connection)?
                .ok_or_else(|| SsoError::new(Kind::Invalid, "SAML provider is not configured"))?;
            let (request_id, url) = sp.authn_request(&idp, &state)?;
            verifications::insert(
                &self.db,
                format!("saml-authn-request:{request_id}"),
                json!(PendingAuthnRequest {
                    provider_id: connection.provider_id().to_owned(),
                })
                .to_string(),
                now + chrono::Duration::minutes(AUTHN_REQUEST_TTL_MINUTES),
                now,
            )
            .await?;
            (url, None)
        } else {
            let oidc = connection
                .oidc
                .as_ref()
                .ok_or_else(|| SsoError::new(Kind::Invalid, "OIDC provider is not configured"))?;
            let nonce = castellan_crypto::random::alphanumeric(32);
            let verifier = oidc.pkce.then(|| castellan_crypto::random::alphanumeric(128));
            let scopes: Vec<String> = req
                .scopes
                .clone()
                .or_else(|| oidc.scopes.clone())
                .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect());
            if let Some((bad, _)) = req
                .additional_params
                .iter()
                .find(|(k, _)| RESERVED_PARAMS.contains(&k.as_str()))
            {
                return Err(SsoError::new(
                    Kind::Invalid,
                    format!("additionalParams may not set the reserved parameter {bad}"),
                ));
            }
            let login_hint = req.login_hint.clone().or_else(|| req.email.clone());
            let redirect_uri = self.oidc_redirect_uri(connection.provider_id());
            let url = self.outbound.rp.authorization_url(
                &oidc.registration(),
                &AuthorizationRequest {
                    redirect_uri: &redirect_uri,
                    state: &state,
                    nonce: Some(&nonce),
                    code_verifier: verifier.as_deref(),
                    scopes: &scopes,
                    login_hint: login_hint.as_deref(),
                    extra: &req.additional_params,
                },
            )?;
            flow.nonce = Some(nonce);
            flow.code_verifier = verifier;
            (url, Some(state.clone()))
        };
        verifications::insert(
            &self.db,
            state,
            json!(flow).to_string(),
            now + chrono::Duration::minutes(FLOW_TTL_MINUTES),
            now,
        )
        .await?;
        Ok(Started {
            url,
            state_cookie: cookie,
        })
    }

    /// Takes (once) the flow a state names.
    async fn take_flow(&self, state: &str) -> SsoResult<Option<FlowState>> {
        self.read_flow(state, true).await
    }

    /// The flow a state names, taken once (`consume`) or only looked at. A state that cannot be
    /// ours (empty, overlong, anything but the letters and digits we issue) names nothing, and
    /// never reaches the database (Postgres refuses a NUL in text).
    async fn read_flow(&self, state: &str, consume: bool) -> SsoResult<Option<FlowState>> {
        if state.is_empty() || state.len() > 128 || !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let row = if consume {
            verifications::consume(&self.db, state, self.now()).await?
        } else {
            verifications::peek(&self.db, state, self.now()).await?
        };
        Ok(row.and_then(|r| serde_json::from_str(&r.value).ok()))
    }

    /// Where a login whose IdP vouched for someone goes on: a test login records who it was; a
    /// real one provisions them and opens a session.
    async fn admit(
        &self,
        vouched: Result<(Connection, Vouched), LoginFailure>,
        flow: &FlowState,
        org_id: Option<&str>,
        client: &crate::domain::Client,
    ) -> Finished {
        if let Some(key) = &flow.setup {
            let identity = vouched.and_then(|(connection, v)| {
                crate::domain::provisioning::acceptable_email(&connection, &v.identity).map(|_| v.identity)
            });
            self.record_setup_test(key, identity, client).await;
            return Finished::Tested {
                redirect: flow.callback_url.clone(),
            };
        }
        let result = match vouched {
            Ok((connection, v)) => {
                self.provision(
                    &connection,
                    v.identity,
                    flow.protocol,
                    v.override_profile,
                    &v.settings,
                    client,
                )
                .await
            }
            Err(failure) => Err(failure),
        };
        self.conclude(result, flow, org_id, client).await
    }

    /// The connection a flow runs against: the setup session's draft for a test login.
    async fn flow_connection(&self, flow: Option<&FlowState>, provider_id: &str) -> SsoResult<Connection> {
        match flow.and_then(|f| f.setup.as_deref()) {
            Some(key) => self
                .setup_connection(key)
                .await
                .ok_or_else(|| SsoError::new(Kind::Missing, "Provider not found")),
            None => self.connection(provider_id).await,
        }
    }

    fn error_page(&self, code: &str) -> String {
        with_params(&format!("{}/error", self.auth_url()), &[("error", code)])
    }
}
