//! Social sign-in and generic OAuth (Better Auth's `socialProviders` and `genericOAuth`): the
//! browser flow (start, callback), one-tap sign-in with an ID token, account linking, and the
//! provider tokens kept for the user (encrypted at rest, refreshed on demand).
//!
//! Flow state lives in the `verification` table (shared by every replica) and is bound to the
//! browser by a signed `state` cookie; it is taken once.

mod linking;
pub mod profile;
mod tokens;

use std::sync::Arc;

use castellan_config::Settings;
use castellan_config::social::{Family, Protocol, Provider};
use castellan_data::repo::verifications;
use castellan_data::{Clock, DataError, DatabaseConnection};
use castellan_oauth::{
    AuthorizationRequest, CodeExchange, IdTokenCheck, LoginFailure, RESERVED_PARAMS, Registration,
    RelyingParty, TokenAuth, with_params,
};
use castellan_session::{AuthSession, ClientInfo, SessionError, SessionManager};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use linking::LinkTarget;
use profile::ProviderProfile;
pub use tokens::{AccessToken, AccountInfo, RefreshedTokens};

use crate::error::{IdentityError, IdentityResult};

/// How long a started login may take (Better Auth's).
const FLOW_TTL_SECONDS: i64 = 600;
/// How long the browser keeps the state cookie (Better Auth's).
pub const STATE_COOKIE_MAX_AGE: u64 = 300;
/// Better Auth's verification identifier for a flow's state.
const STATE_PREFIX: &str = "auth-state:";

/// The social-sign-in use cases; the routes build one per request.
pub struct SocialService {
    pub(crate) db: DatabaseConnection,
    pub(crate) sessions: Arc<SessionManager>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rp: RelyingParty,
}

/// What a browser asks for when it starts a login or a link.
#[derive(Debug, Default)]
pub struct Start {
    pub provider: String,
    pub callback_url: Option<String>,
    pub error_callback_url: Option<String>,
    pub new_user_callback_url: Option<String>,
    pub scopes: Vec<String>,
    pub login_hint: Option<String>,
    pub request_sign_up: bool,
    pub additional_params: Vec<(String, String)>,
}

/// Where to send the browser, and the state to bind to it.
pub struct Started {
    pub url: String,
    pub state: String,
}

/// What the flow remembers between its two legs, in Better Auth's shape (so a login a Better
/// Auth deployment started on the same database can finish here), plus the provider and
/// scopes Castellan checks and stores.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowState {
    #[serde(rename = "callbackURL")]
    callback_url: String,
    code_verifier: String,
    #[serde(rename = "errorURL", default, skip_serializing_if = "Option::is_none")]
    error_url: Option<String>,
    #[serde(rename = "newUserURL", default, skip_serializing_if = "Option::is_none")]
    new_user_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<LinkTarget>,
    #[serde(default)]
    request_sign_up: bool,
    #[serde(rename = "idTokenNonce", default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    /// Milliseconds since the epoch.
    expires_at: i64,
    oauth_state: String,
    /// The provider the flow was started for; Better Auth's flows leave it to the callback path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_id: Option<String>,
    #[serde(default)]
    generic: bool,
    #[serde(default)]
    scopes: Vec<String>,
}

/// What the provider sent back to the callback.
#[derive(Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Apple's first-sign-in `user` form field (`{"name": {"firstName", "lastName"}}`).
    pub user: Option<String>,
}

/// How a callback ended.
pub enum Finished {
    SignedIn { session_token: String, redirect: String },
    Linked { redirect: String },
    Failed { redirect: String },
}

/// An ID token a client obtained itself (Google One Tap, Sign in with Apple JS).
#[derive(Debug, Default)]
pub struct IdTokenSignIn {
    pub token: String,
    pub nonce: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// A display name the client got alongside (Apple sends it only once).
    pub name: Option<String>,
}

/// One-tap sign-in's outcome.
pub struct SignedIn {
    pub user: castellan_data::entity::user::Model,
    pub session: AuthSession,
}

/// Anything the provider or the token endpoint refused while reading who signed in.
fn user_info_failure(f: LoginFailure) -> LoginFailure {
    if f.code == "invalid_grant" {
        return LoginFailure::new("invalid_code", f.reason);
    }
    LoginFailure::new("unable_to_get_user_info", f.reason)
}

impl SocialService {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        sessions: Arc<SessionManager>,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
        rp: RelyingParty,
    ) -> Self {
        Self {
            db,
            sessions,
            settings,
            clock,
            rp,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The configured provider, or Better Auth's 404 (social) / 400 (generic).
    ///
    /// # Errors
    /// No such provider.
    pub fn provider(&self, id: &str, family: Family) -> IdentityResult<&Provider> {
        self.settings
            .social
            .provider(id, family)
            .ok_or_else(|| match family {
                Family::Social => IdentityError::ProviderNotFound,
                Family::Generic => IdentityError::GenericProviderNotFound(id.to_owned()),
            })
    }

    /// The callback the provider sends the browser back to: the configured one, else the one
    /// of the endpoints the flow came through.
    fn redirect_uri(&self, provider: &Provider, via: Family) -> String {
        provider.redirect_uri.clone().unwrap_or_else(|| {
            let path = match via {
                Family::Social => "callback",
                Family::Generic => "oauth2/callback",
            };
            format!("{}/{path}/{}", self.settings.auth_url(), provider.id)
        })
    }

    /// Where the provider's endpoints are: discovered (cached) for OIDC, configured for OAuth 2.0.
    async fn registration(&self, provider: &Provider) -> Result<Registration, LoginFailure> {
        let unreachable = |e: castellan_domain::Refusal| {
            LoginFailure::new(
                "unable_to_get_user_info",
                format!("provider discovery failed: {}", e.message),
            )
        };
        match &provider.protocol {
            Protocol::Oidc {
                issuer,
                discovery_url,
            } => {
                let discovery = discovery_url.clone().unwrap_or_else(|| {
                    format!(
                        "{}/.well-known/openid-configuration",
                        issuer.trim_end_matches('/')
                    )
                });
                let expected = multi_tenant_issuer(issuer).unwrap_or_else(|| issuer.clone());
                let found = self
                    .rp
                    .discover_cached(&expected, Some(&discovery))
                    .await
                    .map_err(unreachable)?;
                Ok(Registration {
                    issuer: found.issuer,
                    client_id: provider.client_id.clone(),
                    authorization_endpoint: Some(found.authorization_endpoint),
                    token_endpoint: Some(found.token_endpoint),
                    jwks_endpoint: Some(found.jwks_endpoint),
                    user_info_endpoint: found.user_info_endpoint,
                    token_auth: TokenAuth::from_name(Some(&found.token_endpoint_authentication)),
                })
            }
            Protocol::OAuth2 {
                authorization_url,
                token_url,
                user_info_url,
            } => Ok(Registration {
                issuer: url::Url::parse(authorization_url)
                    .map(|u| u.origin().ascii_serialization())
                    .unwrap_or_default(),
                client_id: provider.client_id.clone(),
                authorization_endpoint: Some(authorization_url.clone()),
                token_endpoint: Some(token_url.clone()),
                jwks_endpoint: None,
                user_info_endpoint: Some(user_info_url.clone()),
                // GitHub and Discord take the secret in the form body.
                token_auth: TokenAuth::Post,
            }),
        }
    }

    /// Starts a sign-in (or, with `link`, a link for the signed-in user): the provider URL to
    /// send the browser to, and the state to bind to it.
    ///
    /// # Errors
    /// Unknown provider; a reserved `additionalParams` key; the provider cannot be reached.
    pub async fn start(
        &self,
        family: Family,
        req: Start,
        link: Option<LinkTarget>,
    ) -> IdentityResult<Started> {
        let provider = self.provider(&req.provider, family)?;
        if let Some((bad, _)) = req
            .additional_params
            .iter()
            .find(|(k, _)| RESERVED_PARAMS.contains(&k.as_str()))
        {
            return Err(IdentityError::ReservedParameter(bad.clone()));
        }
        let registration = self
            .registration(provider)
            .await
            .map_err(|f| IdentityError::ProviderUnavailable(f.reason))?;
        let state = castellan_crypto::random::alphanumeric(32);
        let code_verifier = castellan_crypto::random::alphanumeric(128);
        let oidc = matches!(provider.protocol, Protocol::Oidc { .. });
        let nonce = oidc.then(|| castellan_crypto::random::alphanumeric(32));
        let mut scopes = provider.scopes.clone();
        for s in &req.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let mut extra = provider.authorization_params.clone();
        extra.extend(req.additional_params.iter().cloned());
        let redirect_uri = self.redirect_uri(provider, family);
        let url = self
            .rp
            .authorization_url(
                &registration,
                &AuthorizationRequest {
                    redirect_uri: &redirect_uri,
                    state: &state,
                    nonce: nonce.as_deref(),
                    code_verifier: Some(&code_verifier),
                    scopes: &scopes,
                    login_hint: req.login_hint.as_deref(),
                    extra: &extra,
                },
            )
            .map_err(|e| IdentityError::ProviderUnavailable(e.message.into_owned()))?;
        let now = self.now();
        let expires_at = now + chrono::Duration::seconds(FLOW_TTL_SECONDS);
        let flow = FlowState {
            provider_id: Some(provider.id.clone()),
            generic: family == Family::Generic,
            expires_at: expires_at.timestamp_millis(),
            oauth_state: state.clone(),
            callback_url: req
                .callback_url
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| self.settings.origin()),
            error_url: req.error_callback_url.filter(|u| !u.is_empty()),
            new_user_url: req.new_user_callback_url.filter(|u| !u.is_empty()),
            code_verifier,
            nonce,
            link,
            request_sign_up: req.request_sign_up,
            scopes,
        };
        let value = serde_json::to_string(&flow).map_err(|e| IdentityError::Internal(e.to_string()))?;
        verifications::insert(&self.db, format!("{STATE_PREFIX}{state}"), value, expires_at, now).await?;
        Ok(Started { url, state })
    }

    fn error_page(&self, code: &str) -> String {
        with_params(&format!("{}/error", self.settings.auth_url()), &[("error", code)])
    }

    async fn read_flow(&self, state: &str, consume: bool) -> Option<FlowState> {
        if state.is_empty() || state.len() > 128 {
            return None;
        }
        let id = format!("{STATE_PREFIX}{state}");
        let row = if consume {
            verifications::consume(&self.db, &id, self.now()).await
        } else {
            verifications::peek(&self.db, &id, self.now()).await
        };
        match row {
            Ok(row) => row.and_then(|r| serde_json::from_str(&r.value).ok()),
            Err(e) => {
                tracing::error!(error = %e, "reading a social sign-in state failed");
                None
            }
        }
    }

    /// `GET /callback/:provider` and `GET /oauth2/callback/:provider`: checks the state and its
    /// browser, exchanges the code, reads who signed in, applies the linking rules, and opens a
    /// session (or records the link).
    pub async fn finish(
        &self,
        family: Family,
        provider_id: &str,
        callback: Callback,
        state_cookie: Option<String>,
        client: &ClientInfo,
    ) -> Finished {
        let state = callback.state.clone().unwrap_or_default();
        if state.is_empty() {
            return Finished::Failed {
                redirect: self.error_page("state_not_found"),
            };
        }
        // The signed cookie ties the callback to the browser that started the login. A callback
        // without it (another browser, a forwarded link) is refused without consuming the flow,
        // so the right browser can still finish.
        if state_cookie.as_deref() != Some(state.as_str()) {
            let target = self
                .read_flow(&state, false)
                .await
                .and_then(|f| f.error_url)
                .unwrap_or_else(|| format!("{}/error", self.settings.auth_url()));
            tracing::info!(provider = provider_id, "social sign-in refused: state_mismatch");
            return Finished::Failed {
                redirect: with_params(&target, &[("error", "state_mismatch")]),
            };
        }
        // Better Auth calls an unknown, spent or expired state a mismatch too.
        let Some(flow) = self
            .read_flow(&state, true)
            .await
            .filter(|f| f.oauth_state == state && f.expires_at > self.now().timestamp_millis())
        else {
            return Finished::Failed {
                redirect: self.error_page("state_mismatch"),
            };
        };
        let error_target = flow
            .error_url
            .clone()
            .unwrap_or_else(|| format!("{}/error", self.settings.auth_url()));
        let fail = |f: LoginFailure| {
            tracing::info!(provider = provider_id, code = %f.code, reason = %f.reason, "social sign-in refused");
            Finished::Failed {
                redirect: with_params(
                    &error_target,
                    &[("error", &f.code), ("error_description", &f.description)],
                ),
            }
        };
        let other_provider = flow.provider_id.as_deref().is_some_and(|p| p != provider_id);
        if other_provider || flow.generic != (family == Family::Generic) {
            return fail(LoginFailure::new(
                "state_mismatch",
                "the state belongs to another provider",
            ));
        }
        match self.complete(family, provider_id, &flow, callback, client).await {
            Ok(done) => done,
            Err(f) => fail(f),
        }
    }

    async fn complete(
        &self,
        family: Family,
        provider_id: &str,
        flow: &FlowState,
        callback: Callback,
        client: &ClientInfo,
    ) -> Result<Finished, LoginFailure> {
        // The provider's own error (`access_denied`, ...) is passed on, as Better Auth does.
        if let Some(error) = callback.error.filter(|e| !e.is_empty()) {
            let plain = error.len() <= 64 && error.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            return Err(LoginFailure::new(
                if plain { error } else { "provider_error".to_owned() },
                callback.error_description.unwrap_or_default(),
            ));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| LoginFailure::new("no_code", "the provider returned no code"))?;
        let provider = self.provider(provider_id, family).map_err(|_| {
            LoginFailure::new("oauth_provider_not_found", "the provider is no longer configured")
        })?;
        let registration = self.registration(provider).await?;
        let exchange = CodeExchange {
            client_secret: &provider.client_secret,
            redirect_uri: &self.redirect_uri(provider, family),
            code: &code,
            code_verifier: Some(&flow.code_verifier),
        };
        let (mut profile, issued) = self
            .identify(provider, &registration, &exchange, flow.nonce.as_deref())
            .await
            .map_err(user_info_failure)?;
        if profile.name.is_none() {
            profile.name = callback.user.as_deref().and_then(apple_name);
        }
        let stored = self.seal_tokens(&issued, &flow.scopes)?;
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(|e| linking::storage(DataError::from(e)))?;
        if let Some(target) = &flow.link {
            self.resolve_link(&txn, provider, &profile, stored, target)
                .await?;
            txn.commit()
                .await
                .map_err(|e| linking::storage(DataError::from(e)))?;
            return Ok(Finished::Linked {
                redirect: flow.callback_url.clone(),
            });
        }
        let resolved = self
            .resolve_sign_in(&txn, provider, &profile, stored, flow.request_sign_up)
            .await?;
        txn.commit()
            .await
            .map_err(|e| linking::storage(DataError::from(e)))?;
        let session = self.open_session(&resolved.user, &provider.id, client).await?;
        let redirect = match (&flow.new_user_url, resolved.is_new_user) {
            (Some(url), true) => url.clone(),
            _ => flow.callback_url.clone(),
        };
        Ok(Finished::SignedIn {
            session_token: session.session.token,
            redirect,
        })
    }

    /// Exchanges the code and reads who signed in: the verified ID token (plus userinfo) for
    /// OIDC, the user API for plain OAuth 2.0.
    async fn identify(
        &self,
        provider: &Provider,
        registration: &Registration,
        exchange: &CodeExchange<'_>,
        nonce: Option<&str>,
    ) -> Result<(ProviderProfile, castellan_oauth::Tokens), LoginFailure> {
        match &provider.protocol {
            Protocol::Oidc { .. } => {
                let check = IdTokenCheck {
                    nonce,
                    clock_skew: self.settings.sso.clock_skew,
                    now: self.now(),
                };
                let (verified, issued) = self.rp.complete(registration, exchange, &check).await?;
                let mapping = profile::claim_mapping(provider);
                Ok((profile::from_claims(&verified.claims, &mapping)?, issued))
            }
            Protocol::OAuth2 { user_info_url, .. } => {
                let issued = self.rp.exchange_code(registration, exchange).await?;
                let profile =
                    profile::from_user_api(&self.rp, &provider.profile, user_info_url, &issued.access_token)
                        .await?;
                Ok((profile, issued))
            }
        }
    }

    async fn open_session(
        &self,
        user: &castellan_data::entity::user::Model,
        provider_id: &str,
        client: &ClientInfo,
    ) -> Result<AuthSession, LoginFailure> {
        let how = castellan_session::Authentication::through("social", provider_id);
        match self.sessions.create(user, how, client, false).await {
            Ok(session) => Ok(session),
            Err(SessionError::Banned) => Err(LoginFailure::new(
                "banned",
                "You have been banned from this application",
            )),
            Err(e) => Err(linking::storage(e)),
        }
    }

    /// Verifies a client-supplied ID token for `provider` and returns who it names.
    async fn verify_client_token(
        &self,
        provider: &Provider,
        req: &IdTokenSignIn,
    ) -> IdentityResult<(ProviderProfile, castellan_oauth::Tokens)> {
        if !provider.id_token_sign_in {
            return Err(IdentityError::IdTokenNotSupported);
        }
        let registration = self
            .registration(provider)
            .await
            .map_err(|f| IdentityError::ProviderUnavailable(f.reason))?;
        let check = IdTokenCheck {
            nonce: req.nonce.as_deref(),
            clock_skew: self.settings.sso.clock_skew,
            now: self.now(),
        };
        let verified = self
            .rp
            .verify_id_token(&registration, &req.token, &check)
            .await
            .map_err(|f| {
                tracing::info!(provider = %provider.id, reason = %f.reason, "ID token refused");
                IdentityError::InvalidToken
            })?;
        let mapping = profile::claim_mapping(provider);
        let mut profile = profile::from_claims(&verified.claims, &mapping)
            .map_err(|_| IdentityError::FailedToGetUserInfo)?;
        if profile.name.is_none() {
            profile.name = req.name.clone();
        }
        let expires_in = req.expires_at.and_then(|at| (at - self.now()).to_std().ok());
        let issued = castellan_oauth::Tokens {
            access_token: req.access_token.clone().unwrap_or_default(),
            refresh_token: req.refresh_token.clone(),
            id_token: Some(req.token.clone()),
            expires_in,
            scopes: None,
        };
        Ok((profile, issued))
    }

    /// `sign-in/social` with `idToken`: verifies it, applies the linking rules and opens a session.
    ///
    /// # Errors
    /// 401 INVALID_TOKEN for a token that fails any check; 401 OAUTH_LINK_ERROR when the linking
    /// rules refuse; 404 for an unknown provider.
    pub async fn sign_in_with_id_token(
        &self,
        provider_id: &str,
        req: IdTokenSignIn,
        request_sign_up: bool,
        client: &ClientInfo,
    ) -> IdentityResult<SignedIn> {
        let provider = self.provider(provider_id, Family::Social)?;
        let (profile, issued) = self.verify_client_token(provider, &req).await?;
        let stored = self
            .seal_tokens(&issued, &provider.scopes)
            .map_err(IdentityError::from_login)?;
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(DataError::from)?;
        let resolved = self
            .resolve_sign_in(&txn, provider, &profile, stored, request_sign_up)
            .await
            .map_err(IdentityError::from_login)?;
        txn.commit().await.map_err(DataError::from)?;
        let how = castellan_session::Authentication::through("social", &provider.id);
        let session = self.sessions.create(&resolved.user, how, client, false).await?;
        Ok(SignedIn {
            user: resolved.user,
            session,
        })
    }

    /// `link-social` with `idToken`.
    ///
    /// # Errors
    /// As [`Self::sign_in_with_id_token`]; 409 when the identity belongs to another user.
    pub async fn link_id_token(
        &self,
        auth: &AuthSession,
        provider_id: &str,
        req: IdTokenSignIn,
    ) -> IdentityResult<()> {
        let provider = self.provider(provider_id, Family::Social)?;
        let (profile, issued) = self.verify_client_token(provider, &req).await?;
        let stored = self
            .seal_tokens(&issued, &provider.scopes)
            .map_err(IdentityError::from_login)?;
        let target = LinkTarget {
            user_id: auth.user.id.clone(),
            email: auth.user.email.clone(),
        };
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(DataError::from)?;
        self.resolve_link(&txn, provider, &profile, stored, &target)
            .await
            .map_err(IdentityError::from_login)?;
        txn.commit().await.map_err(DataError::from)?;
        Ok(())
    }
}

/// The issuer Microsoft's multi-tenant discovery documents name, with `{tenantid}` in it.
fn multi_tenant_issuer(issuer: &str) -> Option<String> {
    let rest = issuer.strip_prefix("https://login.microsoftonline.com/")?;
    let (tenant, tail) = rest.split_once('/')?;
    matches!(tenant, "common" | "organizations" | "consumers")
        .then(|| format!("https://login.microsoftonline.com/{{tenantid}}/{tail}"))
}

/// The display name in Apple's `user` form field.
fn apple_name(user: &str) -> Option<String> {
    display_name(&serde_json::from_str(user).ok()?)
}

/// `{"name": {"firstName", "lastName"}}`, as Apple (and Better Auth's `idToken.user`) send it, as
/// one display name.
#[must_use]
pub fn display_name(user: &serde_json::Value) -> Option<String> {
    let name = user.get("name")?;
    let part = |k: &str| {
        name.get(k)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (part("firstName"), part("lastName")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_multi_tenant_issuers_become_templates() {
        assert_eq!(
            multi_tenant_issuer("https://login.microsoftonline.com/common/v2.0").as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        assert_eq!(
            multi_tenant_issuer("https://login.microsoftonline.com/contoso/v2.0"),
            None
        );
        assert_eq!(multi_tenant_issuer("https://accounts.google.com"), None);
    }

    #[test]
    fn apple_names_come_from_the_user_field() {
        assert_eq!(
            apple_name(r#"{"name":{"firstName":"Ann","lastName":"Lee"}}"#).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(
            apple_name(r#"{"name":{"firstName":"Ann"}}"#).as_deref(),
            Some("Ann")
        );
        assert_eq!(apple_name("not json"), None);
    }
}
