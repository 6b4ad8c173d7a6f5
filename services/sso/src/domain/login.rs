//! The browser login: `sign-in/sso` picks a connection and sends the user to the IdP; the OIDC
//! callback and the SAML ACS check what comes back, provision the user and open a session.
//! Flow state lives in the `verification` table (shared by every replica), bound to the
//! browser by a signed cookie for OIDC.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use castellan_data::repo::{organizations, sso_providers, verifications};
use castellan_session::{ClientInfo, SessionError};

use super::provisioning::{ExternalIdentity, Protocol, groups_from};
use super::{AuditNote, Client, SsoService};
use crate::connection::{ClaimMapping, Connection, open_secret};
use crate::error::{Kind, LoginFailure, SsoError, SsoResult};
use crate::oidc::{AuthorizationRequest, CodeExchange, DEFAULT_SCOPES, RelyingParty};
use crate::saml::{ServiceProviderConfig, TrustedIdp, claimed_request_id, default_name_id_format};

/// How long a started login may take.
const FLOW_TTL_MINUTES: i64 = 10;
/// How long an AuthnRequest may stay unanswered (Better Auth's `requestTTL`).
const AUTHN_REQUEST_TTL_MINUTES: i64 = 5;
/// OAuth parameters `additionalParams` may not override.
const RESERVED_PARAMS: [&str; 8] = [
    "state",
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "scope",
];

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
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingAuthnRequest {
    provider_id: String,
}

/// How a login ended: a session token and where to go, or where to show the error.
pub enum Finished {
    SignedIn { session_token: String, redirect: String },
    Failed { redirect: String },
}

pub struct OidcCallback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

fn with_params(target: &str, params: &[(&str, &str)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = if target.contains('?') { '&' } else { '?' };
    format!("{target}{separator}{query}")
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

    pub(crate) fn sp_config(&self, connection: &Connection) -> Option<ServiceProviderConfig> {
        let saml = connection.saml.as_ref()?;
        let entity_id = saml
            .sp_metadata
            .as_ref()
            .and_then(|m| m.get("entityID"))
            .and_then(Value::as_str)
            .map_or_else(|| saml.issuer.clone(), str::to_owned);
        Some(ServiceProviderConfig {
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
        })
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
        let sp = self.sp_config(&connection).ok_or_else(not_found)?;
        let want_signed = connection
            .saml
            .as_ref()
            .and_then(|s| s.want_assertions_signed)
            .unwrap_or(false);
        Ok(sp.metadata_xml(want_signed))
    }

    /// `POST /sign-in/sso`: the IdP URL to send the browser to.
    ///
    /// # Errors
    /// Better Auth's: 400 nothing to pick by, 404 no connection, 401 domain not verified.
    pub async fn begin_sign_in(&self, req: SignIn, rp: &RelyingParty) -> SsoResult<Started> {
        let connection = self.pick(&req).await?;
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
            fingerprint: fingerprint(&connection),
        };
        let now = self.now();
        let (url, cookie) = if use_saml {
            let saml = connection
                .saml
                .as_ref()
                .ok_or_else(|| SsoError::new(Kind::Invalid, "SAML provider is not configured"))?;
            let idp = TrustedIdp::from_config(saml)?;
            let sp = self
                .sp_config(&connection)
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
            let mut url = rp.authorization_url(
                oidc,
                &AuthorizationRequest {
                    redirect_uri: &redirect_uri,
                    state: &state,
                    nonce: &nonce,
                    code_verifier: verifier.as_deref(),
                    scopes: &scopes,
                    login_hint: login_hint.as_deref(),
                },
            )?;
            if !req.additional_params.is_empty() {
                let pairs: Vec<(&str, &str)> = req
                    .additional_params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                url = with_params(&url, &pairs);
            }
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
    /// ours (empty, overlong) names nothing.
    async fn read_flow(&self, state: &str, consume: bool) -> SsoResult<Option<FlowState>> {
        if state.is_empty() || state.len() > 128 {
            return Ok(None);
        }
        let row = if consume {
            verifications::consume(&self.db, state, self.now()).await?
        } else {
            verifications::peek(&self.db, state, self.now()).await?
        };
        Ok(row.and_then(|r| serde_json::from_str(&r.value).ok()))
    }

    fn error_page(&self, code: &str) -> String {
        with_params(&format!("{}/error", self.auth_url()), &[("error", code)])
    }

    /// `GET /sso/callback/:providerId`.
    pub async fn finish_oidc(
        &self,
        provider_id: &str,
        callback: OidcCallback,
        state_cookie: Option<String>,
        client: &Client,
        rp: &RelyingParty,
    ) -> Finished {
        let OidcCallback {
            code,
            state,
            error,
            error_description,
        } = callback;
        let Some(state) = state.filter(|s| !s.is_empty()) else {
            return Finished::Failed {
                redirect: self.error_page("invalid_state"),
            };
        };
        // The signed cookie ties the callback to the browser that started the login. A callback
        // without it (another browser, a forwarded link) is refused without consuming the flow,
        // so the right browser can still finish.
        if state_cookie.as_deref() != Some(state.as_str()) {
            return self.refuse_stranger(provider_id, &state, client).await;
        }
        let flow = match self.take_flow(&state).await {
            Ok(Some(flow)) if flow.protocol == Protocol::Oidc && flow.provider_id == provider_id => flow,
            Ok(_) => {
                return Finished::Failed {
                    redirect: self.error_page("invalid_state"),
                };
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the SSO state failed");
                return Finished::Failed {
                    redirect: self.error_page("internal_error"),
                };
            }
        };
        let connection = self.connection(provider_id).await.ok();
        let org_id = connection.as_ref().and_then(|c| c.row.organization_id.clone());
        let result = match connection {
            None => Err(LoginFailure::new(
                "invalid_provider",
                "the connection no longer exists",
            )),
            Some(connection) => {
                let parts = (code.filter(|c| !c.is_empty()), error, error_description);
                self.complete_oidc(&connection, &flow, parts, client, rp).await
            }
        };
        self.conclude(result, &flow, org_id.as_deref(), client).await
    }

    /// A callback for a flow this browser did not start: `state_mismatch` (audited against the
    /// flow's organization when the flow exists), the flow left in place.
    async fn refuse_stranger(&self, provider_id: &str, state: &str, client: &Client) -> Finished {
        let peeked = self.read_flow(state, false).await.ok().flatten();
        let Some(flow) = peeked.filter(|f| f.protocol == Protocol::Oidc && f.provider_id == provider_id)
        else {
            return Finished::Failed {
                redirect: self.error_page("invalid_state"),
            };
        };
        let org_id = self
            .connection(provider_id)
            .await
            .ok()
            .and_then(|c| c.row.organization_id.clone());
        let refused = LoginFailure::new("state_mismatch", "the state does not belong to this browser");
        self.conclude(Err(refused), &flow, org_id.as_deref(), client)
            .await
    }

    async fn complete_oidc(
        &self,
        connection: &Connection,
        flow: &FlowState,
        callback: (Option<String>, Option<String>, Option<String>),
        client: &Client,
        rp: &RelyingParty,
    ) -> Result<super::provisioning::Provisioned, LoginFailure> {
        let (code, error, error_description) = callback;
        // The IdP's own error (`access_denied`, ...) is passed on, as Better Auth does.
        if let Some(error) = error {
            let plain = !error.is_empty()
                && error.len() <= 64
                && error.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            return Err(LoginFailure::new(
                if plain { error } else { "idp_error".to_owned() },
                error_description.unwrap_or_default(),
            ));
        }
        let code = code.ok_or_else(|| LoginFailure::new("invalid_request", "the IdP returned no code"))?;
        if fingerprint(connection) != flow.fingerprint {
            return Err(LoginFailure::new(
                "invalid_state",
                "sso_provider_changed_during_authentication",
            ));
        }
        self.require_verified_domain(connection)?;
        let oidc = connection.oidc.as_ref().ok_or_else(|| {
            LoginFailure::new("invalid_provider", "the connection has no OIDC configuration")
        })?;
        let secret = open_secret(&self.settings.secret, &oidc.client_secret)
            .map_err(|_| LoginFailure::new("invalid_provider", "the client secret cannot be decrypted"))?;
        let nonce = flow.nonce.as_deref().unwrap_or_default();
        let redirect_uri = self.oidc_redirect_uri(connection.provider_id());
        let verified = rp
            .complete(
                oidc,
                &CodeExchange {
                    client_secret: &secret,
                    redirect_uri: &redirect_uri,
                    code: &code,
                    code_verifier: flow.code_verifier.as_deref(),
                    nonce,
                    clock_skew: self.settings.sso.clock_skew,
                    now: self.now(),
                },
            )
            .await?;
        let mapping = oidc.mapping.clone().unwrap_or_default();
        let settings = self.provisioning_of(connection.provider_id()).await?;
        let claim = |key: Option<&String>, default: &str| {
            verified.claims.get(key.map_or(default, String::as_str)).cloned()
        };
        let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        let email = text(claim(mapping.email.as_ref(), "email"))
            .ok_or_else(|| LoginFailure::new("missing_user_info", "the IdP sent no email"))?;
        let email_verified = claim(mapping.email_verified.as_ref(), "email_verified")
            .and_then(|v| crate::oidc::claim_bool(&v));
        let name = text(claim(mapping.name.as_ref(), "name")).unwrap_or_else(|| email.clone());
        let identity = ExternalIdentity {
            account_id: verified.subject.clone(),
            email,
            email_verified,
            name,
            image: text(claim(mapping.image.as_ref(), "picture")),
            groups: groups_from(verified.claims.get(&settings.groups_claim)),
        };
        self.provision(
            connection,
            identity,
            Protocol::Oidc,
            oidc.override_user_info == Some(true),
            &settings,
            client,
        )
        .await
    }

    /// `POST /sso/saml2/sp/acs/:providerId`.
    pub async fn finish_saml(
        &self,
        provider_id: &str,
        saml_response: &str,
        relay_state: Option<&str>,
        client: &Client,
    ) -> SsoResult<Finished> {
        let connection = match self.connection(provider_id).await {
            Err(SsoError::Rejected {
                kind: Kind::Missing, ..
            }) => return Err(SsoError::new(Kind::Missing, "No SAML provider found")),
            other => other?,
        };
        let saml = connection
            .saml
            .clone()
            .ok_or_else(|| SsoError::new(Kind::Missing, "No SAML provider found"))?;
        self.require_verified_domain(&connection)?;
        // The IdP posts cross-site, so no cookie ties this to a browser; the RelayState and the
        // AuthnRequest id, both single-use and server-side, do.
        let flow = match relay_state {
            Some(state) => self
                .take_flow(state)
                .await?
                .filter(|f| f.protocol == Protocol::Saml && f.provider_id == provider_id),
            None => None,
        };
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
        });
        let org_id = connection.row.organization_id.clone();
        let result = self
            .complete_saml(&connection, &saml, &flow, flow_found, saml_response, client)
            .await;
        Ok(self.conclude(result, &flow, org_id.as_deref(), client).await)
    }

    async fn complete_saml(
        &self,
        connection: &Connection,
        saml: &crate::connection::SamlConfig,
        flow: &FlowState,
        flow_found: bool,
        saml_response: &str,
        client: &Client,
    ) -> Result<super::provisioning::Provisioned, LoginFailure> {
        if fingerprint(connection) != flow.fingerprint {
            return Err(LoginFailure::new(
                "invalid_state",
                "sso_provider_changed_during_authentication",
            ));
        }
        let idp = TrustedIdp::from_config(saml)?;
        let sp = self.sp_config(connection).ok_or_else(|| {
            LoginFailure::new("invalid_provider", "the connection has no SAML configuration")
        })?;
        let settings = self.provisioning_of(connection.provider_id()).await?;
        let now = self.now();
        let expected = match claimed_request_id(saml_response)? {
            Some(request_id) => {
                let pending =
                    verifications::consume(&self.db, &format!("saml-authn-request:{request_id}"), now)
                        .await
                        .map_err(SsoError::from)?
                        .and_then(|row| serde_json::from_str::<PendingAuthnRequest>(&row.value).ok());
                match pending {
                    Some(p) if p.provider_id == connection.provider_id() => Some(request_id),
                    Some(_) => return Err(LoginFailure::new("invalid_saml_response", "Provider mismatch")),
                    None => {
                        return Err(LoginFailure::new(
                            "invalid_saml_response",
                            "InResponseTo names no pending request of ours (unknown, expired or already answered)",
                        ));
                    }
                }
            }
            None if settings.allow_idp_initiated => None,
            None => {
                return Err(LoginFailure::new(
                    "unsolicited_response",
                    "IdP-initiated login is not enabled for this connection",
                ));
            }
        };
        // An answer to our own request must come back with the RelayState we sent with it (an
        // IdP-initiated response may carry any RelayState of the IdP's).
        if expected.is_some() && !flow_found {
            return Err(LoginFailure::new(
                "invalid_state",
                "the RelayState is unknown or expired",
            ));
        }
        let assertion = sp.validate(&idp, saml_response, expected.as_deref(), now)?;
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
        let identity = ExternalIdentity {
            account_id: assertion.name_id.clone(),
            email,
            email_verified,
            name,
            image: None,
            groups: groups_from(assertion.attributes.get(&settings.groups_claim)),
        };
        self.provision(connection, identity, Protocol::Saml, false, &settings, client)
            .await
    }

    /// Opens the session and records the outcome either way. Failures go to the flow's
    /// `errorCallbackURL`, else its `callbackURL`.
    async fn conclude(
        &self,
        result: Result<super::provisioning::Provisioned, LoginFailure>,
        flow: &FlowState,
        org_id: Option<&str>,
        client: &Client,
    ) -> Finished {
        let (provider_id, protocol) = (flow.provider_id.as_str(), flow.protocol);
        let info = ClientInfo {
            ip_address: client.ip_address.clone().unwrap_or_default(),
            user_agent: client.user_agent.clone().unwrap_or_default(),
        };
        let session = match result {
            Ok(provisioned) => match self.sessions.create(&provisioned.user, &info, false).await {
                Ok(session) => Ok((provisioned, session)),
                Err(SessionError::Banned) => Err(LoginFailure::new("banned", "the user is banned")),
                Err(e) => Err(LoginFailure::from(SsoError::from(e))),
            },
            Err(failure) => Err(failure),
        };
        match session {
            Ok((provisioned, session)) => {
                let recorded = self
                    .audit(
                        &self.db,
                        AuditNote {
                            org_id,
                            action: "sso.login",
                            actor_id: Some(provisioned.user.id.clone()),
                            target: provider_id,
                            details: json!({
                                "protocol": protocol.name(),
                                "email": provisioned.user.email,
                                "newUser": provisioned.is_new_user,
                                "role": provisioned.role,
                            }),
                        },
                        client,
                    )
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "recording an SSO login failed");
                }
                let target = match (&flow.new_user_url, provisioned.is_new_user) {
                    (Some(url), true) => url.clone(),
                    _ => flow.callback_url.clone(),
                };
                Finished::SignedIn {
                    session_token: session.session.token,
                    redirect: target,
                }
            }
            Err(failure) => {
                tracing::info!(provider = provider_id, code = %failure.code, reason = %failure.reason, "SSO login rejected");
                let recorded = self
                    .audit(
                        &self.db,
                        AuditNote {
                            org_id,
                            action: "sso.login.rejected",
                            actor_id: None,
                            target: provider_id,
                            details: json!({ "protocol": protocol.name(), "error": failure.code, "reason": failure.reason }),
                        },
                        client,
                    )
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(error = %e, "recording a rejected SSO login failed");
                }
                Finished::Failed {
                    redirect: with_params(
                        flow.error_url.as_deref().unwrap_or(&flow.callback_url),
                        &[
                            ("error", &failure.code),
                            ("error_description", &failure.description),
                        ],
                    ),
                }
            }
        }
    }
}
