//! Castellan as an OAuth 2.0 / OpenID Connect client of identity providers, on the
//! `openidconnect` and `oauth2` crates: discovery, the authorization-code flow with PKCE (S256),
//! `state` and `nonce`, the token exchange (client_secret_basic or _post), refresh, full ID-token
//! validation against the provider's current JWKS, and userinfo. Enterprise SSO connections and
//! social sign-in both use it; neither knows how the other stores its providers.

mod failure;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use castellan_domain::{Kind, Refusal};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreTokenResponse,
};
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKeySet,
    JsonWebKeySetUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::RwLock;

pub use failure::LoginFailure;

/// Scopes asked for when neither the sign-in nor the connection names any (Better Auth's).
pub const DEFAULT_SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];

/// Authorization parameters a client's `additionalParams` may not override.
pub const RESERVED_PARAMS: [&str; 9] = [
    "state",
    "client_id",
    "redirect_uri",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "scope",
    "response_mode",
];

/// `target` with `params` appended to its query: how a login's outcome (`?error=...`) is
/// reported to the browser's redirect target.
#[must_use]
pub fn with_params(target: &str, params: &[(&str, &str)]) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = if target.contains('?') { '&' } else { '?' };
    format!("{target}{separator}{query}")
}

/// How long a discovery document is reused before it is read again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// Signature algorithms accepted on ID tokens: asymmetric only (no `none`, no HMAC keyed with the
/// client secret).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The placeholder multi-tenant issuers (Microsoft Entra's `common`) put where the tenant goes.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAuth {
    #[default]
    Basic,
    Post,
}

impl TokenAuth {
    /// From a discovery or configuration value; anything but `client_secret_post` is Basic.
    #[must_use]
    pub fn from_name(name: Option<&str>) -> Self {
        if name == Some("client_secret_post") {
            Self::Post
        } else {
            Self::Basic
        }
    }
}

/// Castellan's registration at one provider: who we are there and where its endpoints are.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// The provider's issuer. For a plain OAuth 2.0 provider, its origin. A multi-tenant
    /// issuer may hold `{tenantid}`: the ID token's `tid` claim fills it in.
    pub issuer: String,
    pub client_id: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub jwks_endpoint: Option<String>,
    pub user_info_endpoint: Option<String>,
    pub token_auth: TokenAuth,
}

/// What discovery tells about an IdP.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_endpoint: String,
    pub user_info_endpoint: Option<String>,
    pub token_endpoint_authentication: String,
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// What one authorization request needs remembered until its callback. A `nonce` makes it an
/// OpenID Connect request (`openid` is then always among the scopes).
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub scopes: &'a [String],
    pub login_hint: Option<&'a str>,
    /// Further query parameters (`response_mode`, `prompt`, ...).
    pub extra: &'a [(String, String)],
}

/// What the callback brings to the token exchange.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub code_verifier: Option<&'a str>,
}

/// How an ID token is judged besides its signature, issuer and audience.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenCheck<'a> {
    /// The nonce the authorization request sent; `None` only for a token handed to us directly
    /// (one-tap sign-in) without one, which must then carry none.
    pub nonce: Option<&'a str>,
    pub clock_skew: Duration,
    /// The service's clock: ID-token times are judged against it.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// What the token endpoint issued.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// The compact ID token, when the provider sent one (verify it before reading it).
    pub id_token: Option<String>,
    pub expires_in: Option<Duration>,
    /// The scopes granted, when the provider says (else the ones asked for stand).
    pub scopes: Option<Vec<String>>,
}

/// The identity an IdP vouched for: the verified ID-token claims, overlaid with userinfo.
#[derive(Debug, Clone)]
pub struct VerifiedClaims {
    pub subject: String,
    pub claims: Map<String, Value>,
}

/// One per process: it holds the HTTP connection pool to IdPs and the discovery cache.
#[derive(Clone)]
pub struct RelyingParty {
    http: reqwest::Client,
    discovered: Arc<RwLock<HashMap<String, (Instant, Discovered)>>>,
}

fn invalid(code: &'static str, message: String) -> Refusal {
    Refusal::coded(Kind::Invalid, code, message)
}

fn provider_error(what: impl Into<String>) -> LoginFailure {
    LoginFailure::new("invalid_provider", what.into())
}

impl RelyingParty {
    /// # Errors
    /// The HTTP client could not be built.
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            // An IdP endpoint that redirects elsewhere is refused rather than followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            // Some APIs (GitHub's) refuse requests without one.
            .user_agent("Castellan")
            .build()?;
        Ok(Self {
            http,
            discovered: Arc::default(),
        })
    }

    /// Reads the IdP's discovery document; its `issuer` must be the configured one.
    ///
    /// # Errors
    /// 400 with Better Auth's discovery codes; 502 when the IdP does not answer.
    pub async fn discover(
        &self,
        issuer: &str,
        discovery_endpoint: Option<&str>,
    ) -> Result<Discovered, Refusal> {
        let url = discovery_endpoint.map_or_else(
            || {
                format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                )
            },
            str::to_owned,
        );
        let response = self.http.get(&url).send().await.map_err(|e| {
            if e.is_timeout() {
                Refusal::coded(Kind::Upstream, "discovery_timeout", "Discovery request timed out")
            } else {
                Refusal::coded(
                    Kind::Upstream,
                    "discovery_unexpected_error",
                    format!("Discovery request to {url} failed"),
                )
            }
        })?;
        if !response.status().is_success() {
            return Err(invalid(
                "discovery_not_found",
                format!("Discovery endpoint {url} answered {}", response.status()),
            ));
        }
        let doc: DiscoveryDocument = response
            .json()
            .await
            .map_err(|_| invalid("discovery_invalid_json", "Discovery document is not valid".into()))?;
        if doc.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(invalid(
                "issuer_mismatch",
                format!("Discovered issuer {} does not match {issuer}", doc.issuer),
            ));
        }
        let methods = &doc.token_endpoint_auth_methods_supported;
        let auth = if methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic") {
            "client_secret_basic"
        } else if methods.iter().any(|m| m == "client_secret_post") {
            "client_secret_post"
        } else {
            "client_secret_basic"
        };
        Ok(Discovered {
            issuer: doc.issuer,
            authorization_endpoint: doc.authorization_endpoint,
            token_endpoint: doc.token_endpoint,
            jwks_endpoint: doc.jwks_uri,
            user_info_endpoint: doc.userinfo_endpoint,
            token_endpoint_authentication: auth.to_owned(),
        })
    }

    /// [`Self::discover`], reusing an answer for an hour: sign-ins through a configured
    /// provider need its endpoints on every request.
    ///
    /// # Errors
    /// See [`Self::discover`].
    pub async fn discover_cached(
        &self,
        issuer: &str,
        discovery_endpoint: Option<&str>,
    ) -> Result<Discovered, Refusal> {
        let key = format!("{issuer}\n{}", discovery_endpoint.unwrap_or_default());
        if let Some((at, doc)) = self.discovered.read().await.get(&key)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(doc.clone());
        }
        let doc = self.discover(issuer, discovery_endpoint).await?;
        self.discovered
            .write()
            .await
            .insert(key, (Instant::now(), doc.clone()));
        Ok(doc)
    }

    /// A document an IdP publishes (SAML metadata), up to `limit` bytes.
    ///
    /// # Errors
    /// 502 when it cannot be fetched; 400 when it is too large.
    pub async fn fetch_document(&self, url: &str, limit: usize) -> Result<String, Refusal> {
        let unreachable = || Refusal::message_only(Kind::Upstream, format!("Fetching {url} failed"));
        let response = self.http.get(url).send().await.map_err(|_| unreachable())?;
        if !response.status().is_success() {
            return Err(unreachable());
        }
        let body = response.bytes().await.map_err(|_| unreachable())?;
        if body.len() > limit {
            return Err(Refusal::message_only(
                Kind::Invalid,
                format!("{url} is larger than {limit} bytes"),
            ));
        }
        String::from_utf8(body.to_vec())
            .map_err(|_| Refusal::message_only(Kind::Invalid, format!("{url} is not UTF-8 text")))
    }

    /// The IdP's authorization URL for one sign-in.
    ///
    /// # Errors
    /// An unusable configured endpoint.
    pub fn authorization_url(
        &self,
        reg: &Registration,
        req: &AuthorizationRequest<'_>,
    ) -> Result<String, Refusal> {
        let bad = |e: String| invalid("invalid_provider", e);
        let endpoint = reg
            .authorization_endpoint
            .as_deref()
            .ok_or_else(|| bad("The provider has no authorization endpoint".into()))?;
        let auth_url = AuthUrl::new(endpoint.to_owned()).map_err(|e| bad(e.to_string()))?;
        let redirect = RedirectUrl::new(req.redirect_uri.to_owned()).map_err(|e| bad(e.to_string()))?;
        let pkce = req
            .code_verifier
            .map(|v| PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(v.to_owned())));
        let state = req.state.to_owned();
        let mut extra: Vec<(String, String)> = req.extra.to_vec();
        if let Some(hint) = req.login_hint {
            extra.push(("login_hint".into(), hint.to_owned()));
        }
        let url = if let Some(nonce) = req.nonce {
            let client = CoreClient::new(
                ClientId::new(reg.client_id.clone()),
                issuer_url(&reg.issuer).map_err(|e| bad(e.reason))?,
                JsonWebKeySet::new(Vec::new()),
            )
            .set_auth_uri(auth_url)
            .set_redirect_uri(redirect);
            let nonce = nonce.to_owned();
            let mut auth = client.authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            );
            // `openid` is always sent by the crate; add the others once each.
            for scope in req.scopes.iter().filter(|s| s.as_str() != "openid") {
                auth = auth.add_scope(Scope::new(scope.clone()));
            }
            if let Some(pkce) = pkce {
                auth = auth.set_pkce_challenge(pkce);
            }
            for (k, v) in extra {
                auth = auth.add_extra_param(k, v);
            }
            auth.url().0
        } else {
            let client = oauth2::basic::BasicClient::new(ClientId::new(reg.client_id.clone()))
                .set_auth_uri(auth_url)
                .set_redirect_uri(redirect);
            let mut auth = client.authorize_url(move || CsrfToken::new(state));
            for scope in req.scopes {
                auth = auth.add_scope(Scope::new(scope.clone()));
            }
            if let Some(pkce) = pkce {
                auth = auth.set_pkce_challenge(pkce);
            }
            for (k, v) in extra {
                auth = auth.add_extra_param(k, v);
            }
            auth.url().0
        };
        Ok(url.to_string())
    }

    fn token_client(
        &self,
        reg: &Registration,
        client_secret: &str,
        redirect_uri: Option<&str>,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
        >,
        LoginFailure,
    > {
        let token_endpoint = reg
            .token_endpoint
            .as_deref()
            .ok_or_else(|| provider_error("the provider has no token endpoint"))?;
        let mut client = CoreClient::new(
            ClientId::new(reg.client_id.clone()),
            issuer_url(&reg.issuer)?,
            JsonWebKeySet::new(Vec::new()),
        )
        .set_client_secret(ClientSecret::new(client_secret.to_owned()))
        .set_auth_type(match reg.token_auth {
            TokenAuth::Post => AuthType::RequestBody,
            TokenAuth::Basic => AuthType::BasicAuth,
        })
        .set_token_uri(
            TokenUrl::new(token_endpoint.to_owned()).map_err(|_| provider_error("bad token endpoint"))?,
        );
        if let Some(uri) = redirect_uri {
            client = client.set_redirect_uri(
                RedirectUrl::new(uri.to_owned()).map_err(|_| provider_error("bad redirect URI"))?,
            );
        }
        Ok(client)
    }

    /// Trades an authorization code for tokens. The ID token, if any, is not yet verified.
    ///
    /// # Errors
    /// The token endpoint refused the code (wrong PKCE verifier, reused code, bad client
    /// credentials: `invalid_grant`) or could not be used.
    pub async fn exchange_code(
        &self,
        reg: &Registration,
        exchange: &CodeExchange<'_>,
    ) -> Result<Tokens, LoginFailure> {
        let client = self.token_client(reg, exchange.client_secret, Some(exchange.redirect_uri))?;
        let mut request = client.exchange_code(AuthorizationCode::new(exchange.code.to_owned()));
        if let Some(verifier) = exchange.code_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let response = request.request_async(&self.http).await;
        tokens_from(response, "the token endpoint refused the code")
    }

    /// Trades a refresh token for fresh tokens.
    ///
    /// # Errors
    /// The provider refused the refresh token (`invalid_grant`) or could not be used.
    pub async fn refresh(
        &self,
        reg: &Registration,
        client_secret: &str,
        refresh_token: &str,
    ) -> Result<Tokens, LoginFailure> {
        let client = self.token_client(reg, client_secret, None)?;
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .request_async(&self.http)
            .await;
        tokens_from(response, "the token endpoint refused the refresh token")
    }

    /// Verifies a compact ID token against the provider's current JWKS: signature (asymmetric
    /// algorithms only), issuer, audience, expiry, issue time (bounded skew) and nonce. Returns
    /// its claims.
    ///
    /// # Errors
    /// `invalid_provider` / `token_not_verified` for any failed check.
    pub async fn verify_id_token(
        &self,
        reg: &Registration,
        raw: &str,
        check: &IdTokenCheck<'_>,
    ) -> Result<VerifiedClaims, LoginFailure> {
        let jwks_endpoint = reg
            .jwks_endpoint
            .as_deref()
            .ok_or_else(|| provider_error("the provider has no JWKS endpoint"))?;
        // The IdP's keys as of now: a rotated signing key is picked up on the next login.
        let jwks_url = JsonWebKeySetUrl::new(jwks_endpoint.to_owned())
            .map_err(|_| provider_error("bad JWKS endpoint"))?;
        let jwks = JsonWebKeySet::fetch_async(&jwks_url, &self.http)
            .await
            .map_err(|e| provider_error(format!("fetching the IdP's JWKS failed: {e}")))?;
        let id_token: CoreIdToken = raw
            .parse()
            .map_err(|e| token_not_verified(format!("unreadable ID token: {e}")))?;
        let client = CoreClient::new(
            ClientId::new(reg.client_id.clone()),
            issuer_url(&reg.issuer)?,
            jwks,
        );
        let IdTokenCheck {
            nonce,
            clock_skew,
            now,
        } = *check;
        let skew = chrono::Duration::from_std(clock_skew).unwrap_or_else(|_| chrono::Duration::seconds(120));
        let multi_tenant = reg.issuer.contains(TENANT_PLACEHOLDER);
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .require_issuer_match(!multi_tenant)
            .set_time_fn(move || now)
            .set_issue_time_verifier_fn(move |iat| {
                if iat > now + skew {
                    Err(format!("issued in the future ({iat})"))
                } else {
                    Ok(())
                }
            });
        let expected = nonce.map(|n| Nonce::new(n.to_owned()));
        let nonce_check = |sent: Option<&Nonce>| match (sent, expected.as_ref()) {
            (Some(got), Some(want)) if got.secret() == want.secret() => Ok(()),
            (None, None) => Ok(()),
            _ => Err("the nonce does not match".to_owned()),
        };
        let verified = id_token
            .claims(&verifier, nonce_check)
            .map_err(|e| token_not_verified(format!("ID token rejected: {e}")))?;
        let subject = verified.subject().to_string();
        // The signature covers the payload, so its raw claims (groups, custom mapped claims) can
        // be read now that it verified.
        let claims =
            raw_claims(raw).ok_or_else(|| token_not_verified("unreadable ID token payload".into()))?;
        if multi_tenant {
            let tenant = claims.get("tid").and_then(Value::as_str).unwrap_or_default();
            let issuer = reg.issuer.replace(TENANT_PLACEHOLDER, tenant);
            if tenant.is_empty() || claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
                return Err(token_not_verified("the issuer is not the token's tenant".into()));
            }
        }
        Ok(VerifiedClaims { subject, claims })
    }

    /// An OpenID Connect login's second leg: the code exchange, the ID token (required and
    /// verified), then userinfo, which may add claims but not change the subject.
    ///
    /// # Errors
    /// Any refusal of the token endpoint, the ID token or userinfo.
    pub async fn complete(
        &self,
        reg: &Registration,
        exchange: &CodeExchange<'_>,
        check: &IdTokenCheck<'_>,
    ) -> Result<(VerifiedClaims, Tokens), LoginFailure> {
        let tokens = self.exchange_code(reg, exchange).await?;
        let raw = tokens
            .id_token
            .as_deref()
            .ok_or_else(|| provider_error("the IdP returned no ID token"))?;
        let VerifiedClaims { subject, mut claims } = self.verify_id_token(reg, raw, check).await?;
        // An address the ID token calls unverified stays unverified whatever userinfo says.
        let token_says_unverified = claims.get("email_verified").and_then(claim_bool) == Some(false);
        if let Some(endpoint) = reg.user_info_endpoint.as_deref() {
            let info = self.fetch_json(endpoint, &tokens.access_token).await?;
            let Value::Object(info) = info else {
                return Err(provider_error("userinfo is not a JSON object"));
            };
            if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(provider_error(
                    "userinfo describes another subject than the ID token",
                ));
            }
            claims.extend(info);
        }
        if token_says_unverified {
            claims.insert("email_verified".into(), Value::Bool(false));
        }
        Ok((VerifiedClaims { subject, claims }, tokens))
    }

    /// A JSON resource of the provider's API read with the user's access token (userinfo,
    /// GitHub's `/user` and `/user/emails`).
    ///
    /// # Errors
    /// `invalid_provider` when it does not answer with JSON.
    pub async fn fetch_json(&self, endpoint: &str, access_token: &str) -> Result<Value, LoginFailure> {
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| provider_error(format!("{endpoint} request failed: {e}")))?;
        if !response.status().is_success() {
            return Err(provider_error(format!(
                "{endpoint} answered {}",
                response.status()
            )));
        }
        response
            .json::<Value>()
            .await
            .map_err(|_| provider_error(format!("{endpoint} did not answer JSON")))
    }
}

fn tokens_from<E: std::error::Error + 'static>(
    response: Result<
        CoreTokenResponse,
        RequestTokenError<
            E,
            openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
        >,
    >,
    refused: &str,
) -> Result<Tokens, LoginFailure> {
    let tokens = response.map_err(|e| match e {
        RequestTokenError::ServerResponse(r) => {
            LoginFailure::new("invalid_grant", format!("{refused}: {}", r.error()))
        }
        // GitHub answers a bad code with 200 and `{"error": ...}`: not a token response.
        RequestTokenError::Parse(_, body) if String::from_utf8_lossy(&body).contains("\"error\"") => {
            LoginFailure::new("invalid_grant", refused.to_owned())
        }
        other => provider_error(format!("token exchange failed: {other}")),
    })?;
    Ok(Tokens {
        access_token: tokens.access_token().secret().clone(),
        refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        id_token: tokens
            .id_token()
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        expires_in: tokens.expires_in(),
        scopes: tokens.scopes().map(|s| s.iter().map(|s| s.to_string()).collect()),
    })
}

/// A boolean claim as IdPs spell it: `true`, or the strings `"true"`/`"false"` (Cognito, some
/// Entra tenants). Anything else says nothing.
#[must_use]
pub fn claim_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Better Auth's answer for any ID-token fault (`invalid_provider` / `token_not_verified`);
/// which check failed goes to the audit log.
fn token_not_verified(reason: String) -> LoginFailure {
    LoginFailure::masked("invalid_provider", "token_not_verified", reason)
}

fn issuer_url(issuer: &str) -> Result<IssuerUrl, LoginFailure> {
    IssuerUrl::new(issuer.to_owned()).map_err(|e| provider_error(format!("bad issuer: {e}")))
}

/// The payload of a compact JWT, as a JSON object.
fn raw_claims(jwt: &str) -> Option<Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_claims_accept_the_string_spellings() {
        use serde_json::json;
        assert_eq!(claim_bool(&json!(true)), Some(true));
        assert_eq!(claim_bool(&json!("true")), Some(true));
        assert_eq!(claim_bool(&json!("False")), Some(false));
        assert_eq!(claim_bool(&json!("yes")), None);
        assert_eq!(claim_bool(&json!(1)), None);
    }

    #[test]
    fn raw_claims_reads_the_payload() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"a","groups":["x"]}"#);
        let jwt = format!("e30.{payload}.sig");
        let claims = raw_claims(&jwt).unwrap();
        assert_eq!(claims["groups"], serde_json::json!(["x"]));
        assert!(raw_claims("junk").is_none());
    }
}
