//! The OIDC relying party, on the `openidconnect` crate: discovery, the authorization-code flow
//! with PKCE (S256), `state` and `nonce`, the token exchange (client_secret_basic or _post), full
//! ID-token validation against the IdP's current JWKS, and userinfo.

use std::time::Duration;

use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreTokenResponse};
use openidconnect::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKeySet,
    JsonWebKeySetUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Kind, LoginFailure, SsoError, SsoResult};
use crate::provider::OidcConfig;

/// Scopes asked for when neither the sign-in nor the connection names any (Better Auth's).
pub const DEFAULT_SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];

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

/// What discovery tells about an IdP.
#[derive(Debug, Clone)]
pub struct Discovered {
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

/// What one authorization request needs remembered until its callback.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub code_verifier: Option<&'a str>,
    pub scopes: &'a [String],
    pub login_hint: Option<&'a str>,
}

/// What the callback brings to the token exchange.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
    pub code: &'a str,
    pub code_verifier: Option<&'a str>,
    pub nonce: &'a str,
    pub clock_skew: Duration,
    /// The service's clock: ID-token times are judged against it.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// The identity an IdP vouched for: the verified ID-token claims, overlaid with userinfo.
#[derive(Debug, Clone)]
pub struct VerifiedClaims {
    pub subject: String,
    pub claims: Map<String, Value>,
}

/// One per process: it holds the HTTP connection pool to IdPs.
#[derive(Clone)]
pub struct RelyingParty {
    http: reqwest::Client,
}

fn invalid(code: &'static str, message: String) -> SsoError {
    SsoError::coded(Kind::Invalid, code, message)
}

impl RelyingParty {
    /// # Errors
    /// The HTTP client could not be built.
    pub fn new() -> SsoResult<Self> {
        let http = reqwest::Client::builder()
            // An IdP endpoint that redirects elsewhere is refused rather than followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(SsoError::internal)?;
        Ok(Self { http })
    }

    /// Reads the IdP's discovery document; its `issuer` must be the configured one.
    ///
    /// # Errors
    /// 400 with Better Auth's discovery codes; 502 when the IdP does not answer.
    pub async fn discover(&self, issuer: &str, discovery_endpoint: Option<&str>) -> SsoResult<Discovered> {
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
                SsoError::coded(Kind::Upstream, "discovery_timeout", "Discovery request timed out")
            } else {
                SsoError::coded(
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
            authorization_endpoint: doc.authorization_endpoint,
            token_endpoint: doc.token_endpoint,
            jwks_endpoint: doc.jwks_uri,
            user_info_endpoint: doc.userinfo_endpoint,
            token_endpoint_authentication: auth.to_owned(),
        })
    }

    /// A document an IdP publishes (SAML metadata), up to `limit` bytes.
    ///
    /// # Errors
    /// 502 when it cannot be fetched; 400 when it is too large.
    pub async fn fetch_document(&self, url: &str, limit: usize) -> SsoResult<String> {
        let unreachable = || SsoError::new(Kind::Upstream, format!("Fetching {url} failed"));
        let response = self.http.get(url).send().await.map_err(|_| unreachable())?;
        if !response.status().is_success() {
            return Err(unreachable());
        }
        let body = response.bytes().await.map_err(|_| unreachable())?;
        if body.len() > limit {
            return Err(SsoError::new(
                Kind::Invalid,
                format!("{url} is larger than {limit} bytes"),
            ));
        }
        String::from_utf8(body.to_vec())
            .map_err(|_| SsoError::new(Kind::Invalid, format!("{url} is not UTF-8 text")))
    }

    /// The IdP's authorization URL for one sign-in.
    ///
    /// # Errors
    /// An unusable configured endpoint.
    pub fn authorization_url(&self, cfg: &OidcConfig, req: &AuthorizationRequest<'_>) -> SsoResult<String> {
        let endpoint = cfg.authorization_endpoint.as_deref().ok_or_else(|| {
            invalid(
                "invalid_provider",
                "The provider has no authorization endpoint".into(),
            )
        })?;
        let client = CoreClient::new(
            ClientId::new(cfg.client_id.clone()),
            issuer_url(&cfg.issuer)?,
            JsonWebKeySet::new(Vec::new()),
        )
        .set_auth_uri(
            AuthUrl::new(endpoint.to_owned()).map_err(|e| invalid("invalid_provider", e.to_string()))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(req.redirect_uri.to_owned())
                .map_err(|e| invalid("invalid_provider", e.to_string()))?,
        );
        let (state, nonce) = (req.state.to_owned(), req.nonce.to_owned());
        let mut auth = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state),
            move || Nonce::new(nonce),
        );
        // `openid` is always sent by the crate; add the others once each.
        for scope in req.scopes.iter().filter(|s| s.as_str() != "openid") {
            auth = auth.add_scope(Scope::new(scope.clone()));
        }
        if let Some(verifier) = req.code_verifier {
            auth = auth.set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(
                &PkceCodeVerifier::new(verifier.to_owned()),
            ));
        }
        if let Some(hint) = req.login_hint {
            auth = auth.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, _, _) = auth.url();
        Ok(url.to_string())
    }

    /// Exchanges the code and validates what comes back. Every refusal is a [`LoginFailure`].
    ///
    /// # Errors
    /// The token endpoint refused the code (wrong PKCE verifier, reused code, bad client
    /// credentials); the ID token is missing or fails any check; userinfo disagrees.
    pub async fn complete(
        &self,
        cfg: &OidcConfig,
        exchange: &CodeExchange<'_>,
    ) -> Result<VerifiedClaims, LoginFailure> {
        let CodeExchange {
            client_secret,
            redirect_uri,
            code,
            code_verifier,
            nonce,
            clock_skew,
            now,
        } = *exchange;
        let provider_error = |what: &str| LoginFailure::new("invalid_provider", what.to_owned());
        let token_endpoint = cfg
            .token_endpoint
            .as_deref()
            .ok_or_else(|| provider_error("the provider has no token endpoint"))?;
        let jwks_endpoint = cfg
            .jwks_endpoint
            .as_deref()
            .ok_or_else(|| provider_error("the provider has no JWKS endpoint"))?;
        // The IdP's keys as of now: a rotated signing key is picked up on the next login.
        let jwks_url = JsonWebKeySetUrl::new(jwks_endpoint.to_owned())
            .map_err(|_| provider_error("bad JWKS endpoint"))?;
        let jwks = JsonWebKeySet::fetch_async(&jwks_url, &self.http)
            .await
            .map_err(|e| {
                LoginFailure::new("invalid_provider", format!("fetching the IdP's JWKS failed: {e}"))
            })?;
        let issuer = issuer_url(&cfg.issuer).map_err(|_| provider_error("bad issuer"))?;
        let client = CoreClient::new(ClientId::new(cfg.client_id.clone()), issuer, jwks)
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            .set_auth_type(match cfg.token_endpoint_authentication.as_deref() {
                Some("client_secret_post") => AuthType::RequestBody,
                _ => AuthType::BasicAuth,
            })
            .set_token_uri(
                TokenUrl::new(token_endpoint.to_owned()).map_err(|_| provider_error("bad token endpoint"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| provider_error("bad redirect URI"))?,
            );

        let mut exchange = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(verifier) = code_verifier {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        }
        let tokens: CoreTokenResponse = exchange.request_async(&self.http).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => LoginFailure::new(
                "invalid_grant",
                format!("the token endpoint refused the code: {}", r.error()),
            ),
            other => LoginFailure::new("invalid_provider", format!("token exchange failed: {other}")),
        })?;

        let id_token = tokens
            .id_token()
            .ok_or_else(|| LoginFailure::new("invalid_provider", "the IdP returned no ID token"))?;
        let skew = chrono::Duration::from_std(clock_skew).unwrap_or_else(|_| chrono::Duration::seconds(120));
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .set_time_fn(move || now)
            .set_issue_time_verifier_fn(move |iat| {
                if iat > now + skew {
                    Err(format!("issued in the future ({iat})"))
                } else {
                    Ok(())
                }
            });
        let verified = id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| token_not_verified(format!("ID token rejected: {e}")))?;
        let subject = verified.subject().to_string();
        // The signature covers the payload, so its raw claims (groups, custom mapped claims) can
        // be read now that it verified.
        let mut claims = raw_claims(&serde_json::to_value(id_token).unwrap_or(Value::Null))
            .ok_or_else(|| token_not_verified("unreadable ID token payload".into()))?;

        // An address the ID token calls unverified stays unverified whatever userinfo says.
        let token_says_unverified = claims.get("email_verified").and_then(claim_bool) == Some(false);
        if let Some(endpoint) = cfg.user_info_endpoint.as_deref() {
            let info = self
                .userinfo(endpoint, tokens.access_token().secret())
                .await
                .map_err(|reason| LoginFailure::new("invalid_provider", reason))?;
            if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(LoginFailure::new(
                    "invalid_provider",
                    "userinfo describes another subject than the ID token",
                ));
            }
            claims.extend(info);
        }
        if token_says_unverified {
            claims.insert("email_verified".into(), Value::Bool(false));
        }
        Ok(VerifiedClaims { subject, claims })
    }

    async fn userinfo(&self, endpoint: &str, access_token: &str) -> Result<Map<String, Value>, String> {
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("userinfo request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("userinfo answered {}", response.status()));
        }
        response
            .json::<Map<String, Value>>()
            .await
            .map_err(|_| "userinfo is not a JSON object".to_owned())
    }
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

fn issuer_url(issuer: &str) -> SsoResult<IssuerUrl> {
    IssuerUrl::new(issuer.to_owned()).map_err(|e| invalid("invalid_provider", format!("bad issuer: {e}")))
}

/// The payload of a compact JWT, as a JSON object.
fn raw_claims(jwt: &Value) -> Option<Map<String, Value>> {
    let payload = jwt.as_str()?.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
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
        let jwt = Value::String(format!("e30.{payload}.sig"));
        let claims = raw_claims(&jwt).unwrap();
        assert_eq!(claims["groups"], serde_json::json!(["x"]));
        assert!(raw_claims(&Value::String("junk".into())).is_none());
    }
}
