//! Verify Castellan sign-ins in the services behind it, in one of two ways:
//!
//! - **JWTs** (`GET /api/auth/token`, or the `set-auth-jwt` header of `get-session`), checked
//!   locally against the published key set (`/jwks`): signature with an allowed algorithm,
//!   `iss`, `aud`, `exp` and `nbf` with bounded clock skew. The key set is cached and fetched
//!   again when a token names a key it does not hold (after a rotation), at most once per
//!   [`Config::jwks_refetch_floor`].
//! - **Sessions** (the `better-auth.session_token` cookie, or a bearer token), checked by asking
//!   `get-session`, with a short positive cache ([`Config::session_cache_ttl`]) and no negative
//!   cache: a refused credential is asked about again next time.
//!
//! Either gives the user; a session also gives the active organization, and
//! [`Verifier::active_member`] and [`Verifier::has_permission`] ask Castellan for the member's
//! role and for a permission decision in that organization. Errors say whether to answer 401
//! ([`VerifyError::Unauthenticated`]), 403 ([`VerifyError::Forbidden`]) or 503
//! ([`VerifyError::Unavailable`]).
//!
//! ```no_run
//! # async fn handler(cookie_header: &str, raw_jwt: &str) -> Result<(), castellan_verify::VerifyError> {
//! use castellan_verify::{Credential, Verifier};
//!
//! let verifier = Verifier::new("https://auth.example.com/api/auth")?;
//! // A JWT from the frontend's Authorization header:
//! let claims = verifier.verify_jwt(raw_jwt).await?;
//! println!("user {} <{}>", claims.sub, claims.email.unwrap_or_default());
//! // Or the browser's own session cookie:
//! let signed_in = verifier.verify_session(Credential::Cookie(cookie_header)).await?;
//! let org = signed_in.session.active_organization_id.as_deref();
//! let may = verifier
//!     .has_permission(Credential::Cookie(cookie_header), &serde_json::json!({"member": ["create"]}))
//!     .await?;
//! # let _ = (org, may);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, RwLock};
use url::Url;

/// Why a credential was not accepted, and which HTTP answer that calls for.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No credential, or one that is invalid, expired or revoked: answer 401.
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    /// Signed in, but not allowed: answer 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Castellan could not be asked (down, timing out, answering 5xx): answer 503, never let
    /// the request through.
    #[error("the auth server is unavailable: {0}")]
    Unavailable(String),
    /// The verifier was set up with an unusable URL.
    #[error("bad verifier configuration: {0}")]
    Config(String),
}

impl VerifyError {
    /// A short code for the answer's body.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHORIZED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::Unavailable(_) | Self::Config(_) => "AUTH_UNAVAILABLE",
        }
    }

    /// The HTTP status to answer with.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated(_) => 401,
            Self::Forbidden(_) => 403,
            Self::Unavailable(_) | Self::Config(_) => 503,
        }
    }
}

/// How strict and how cached the verifier is. [`Config::for_auth_url`] gives Castellan's
/// defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The auth API's base, e.g. `https://auth.example.com/api/auth`.
    pub auth_url: Url,
    /// Expected `iss` (Castellan's: the origin of `BASE_URL`).
    pub issuer: String,
    /// Expected `aud` (the same origin unless configured otherwise).
    pub audience: String,
    /// Accepted signature algorithms (Castellan signs with EdDSA).
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The least time between two fetches of the key set.
    pub jwks_refetch_floor: Duration,
    /// How long a session Castellan confirmed is believed without asking again.
    pub session_cache_ttl: Duration,
    /// Sessions remembered at most (the cache is emptied of expired entries, then of all, when
    /// full).
    pub session_cache_capacity: usize,
    /// Timeout of each request to Castellan.
    pub timeout: Duration,
}

impl Config {
    /// Castellan's defaults for the auth API at `auth_url`.
    ///
    /// # Errors
    /// [`VerifyError::Config`] for a URL that is not absolute http(s).
    pub fn for_auth_url(auth_url: &str) -> Result<Self, VerifyError> {
        let mut url = Url::parse(auth_url).map_err(|e| VerifyError::Config(format!("{auth_url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(VerifyError::Config(format!("{auth_url:?} is not an http(s) URL")));
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let origin = url.origin().ascii_serialization();
        Ok(Self {
            auth_url: url,
            issuer: origin.clone(),
            audience: origin,
            algorithms: vec![Algorithm::EdDSA],
            leeway: Duration::from_secs(30),
            jwks_refetch_floor: Duration::from_secs(30),
            session_cache_ttl: Duration::from_secs(10),
            session_cache_capacity: 10_000,
            timeout: Duration::from_secs(5),
        })
    }
}

/// The claims of a verified JWT: the user's fields, as Castellan puts them there.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub email_verified: Option<bool>,
    /// Every claim, including the above.
    #[serde(flatten)]
    pub all: Map<String, Value>,
}

/// The user of a verified session.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub role: Option<String>,
    pub banned: Option<bool>,
}

/// The session row of a verified session.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub id: String,
    pub user_id: String,
    pub expires_at: String,
    /// The organization the session acts in; every org-scoped query of the service should be
    /// filtered by it, never by an id the client sends.
    pub active_organization_id: Option<String>,
    pub active_team_id: Option<String>,
    pub impersonated_by: Option<String>,
}

/// A session Castellan confirmed.
#[derive(Debug, Clone, Deserialize)]
pub struct SignedIn {
    pub user: User,
    pub session: SessionInfo,
}

/// The signed-in user's membership in the active organization.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    /// One role, or several joined by commas (Better Auth's wire).
    pub role: String,
}

/// What a request presented.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// The request's whole `Cookie` header.
    Cookie(&'a str),
    /// A session token (or `token.signature`) from `Authorization: Bearer`.
    Bearer(&'a str),
}

/// A request's credential, owned: a bearer token wins over cookies.
#[derive(Debug, Clone)]
pub enum Presented {
    Bearer(String),
    Cookie(String),
}

impl Presented {
    /// From the `Authorization` and `Cookie` header values.
    #[must_use]
    pub fn from_headers(authorization: Option<&str>, cookie: Option<&str>) -> Option<Self> {
        if let Some(token) = authorization.and_then(|v| v.strip_prefix("Bearer ")) {
            return Some(Self::Bearer(token.trim().to_owned()));
        }
        cookie.map(|c| Self::Cookie(c.to_owned()))
    }

    #[must_use]
    pub fn credential(&self) -> Credential<'_> {
        match self {
            Self::Bearer(b) => Credential::Bearer(b),
            Self::Cookie(c) => Credential::Cookie(c),
        }
    }

    /// Verifies the session this credential names.
    pub(crate) async fn signed_in(found: Option<Self>, verifier: &Verifier) -> Result<SignedIn, VerifyError> {
        let presented = found
            .ok_or_else(|| VerifyError::Unauthenticated("no session cookie or bearer token".to_owned()))?;
        verifier.verify_session(presented.credential()).await
    }

    /// Verifies the JWT this credential carries.
    pub(crate) async fn jwt(found: Option<Self>, verifier: &Verifier) -> Result<Claims, VerifyError> {
        match found {
            Some(Self::Bearer(token)) => verifier.verify_jwt(&token).await,
            _ => Err(VerifyError::Unauthenticated("no bearer token".to_owned())),
        }
    }
}

impl Credential<'_> {
    fn cache_key(self) -> String {
        let (kind, value) = match self {
            Self::Cookie(c) => ("c", c),
            Self::Bearer(b) => ("b", b),
        };
        hex::encode(Sha256::digest(format!("{kind}:{value}").as_bytes()))
    }
}

struct KeySet {
    keys: JwkSet,
    fetched: Option<Instant>,
}

/// Verifies JWTs and sessions against one Castellan deployment. Cheap to share: keep one per
/// process (it holds the key set and the session cache).
pub struct Verifier {
    config: Config,
    http: reqwest::Client,
    keys: RwLock<KeySet>,
    sessions: Mutex<HashMap<String, (SignedIn, Instant)>>,
}

impl Verifier {
    /// A verifier with Castellan's defaults for the auth API at `auth_url`.
    ///
    /// # Errors
    /// [`VerifyError::Config`] for a bad URL.
    pub fn new(auth_url: &str) -> Result<Self, VerifyError> {
        Self::with_config(Config::for_auth_url(auth_url)?)
    }

    /// # Errors
    /// [`VerifyError::Config`] when no HTTP client can be built.
    pub fn with_config(config: Config) -> Result<Self, VerifyError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| VerifyError::Config(e.to_string()))?;
        Ok(Self {
            config,
            http,
            keys: RwLock::new(KeySet {
                keys: JwkSet { keys: Vec::new() },
                fetched: None,
            }),
            sessions: Mutex::new(HashMap::new()),
        })
    }

    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn endpoint(&self, path: &str) -> Result<Url, VerifyError> {
        self.config
            .auth_url
            .join(path)
            .map_err(|e| VerifyError::Config(e.to_string()))
    }

    /// Verifies a JWT locally against the key set.
    ///
    /// # Errors
    /// [`VerifyError::Unauthenticated`] for a token that is malformed, signed by an unknown key
    /// or with a refused algorithm, expired, not yet valid, or for another issuer or audience;
    /// [`VerifyError::Unavailable`] when the key set cannot be fetched.
    pub async fn verify_jwt(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Unauthenticated(format!("malformed token: {e}")))?;
        if !self.config.algorithms.contains(&header.alg) {
            return Err(VerifyError::Unauthenticated(format!(
                "algorithm {:?} is not allowed",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| VerifyError::Unauthenticated("the token names no key".to_owned()))?;
        let key = self.decoding_key(&kid).await?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms.clone_from(&self.config.algorithms);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| VerifyError::Unauthenticated(format!("token refused: {e}")))
    }

    /// The key `kid`, fetching the key set again if it is not known (a rotation), no more often
    /// than the floor allows.
    async fn decoding_key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        {
            let set = self.keys.read().await;
            if let Some(jwk) = set.keys.find(kid) {
                return DecodingKey::from_jwk(jwk)
                    .map_err(|e| VerifyError::Unauthenticated(format!("unusable key: {e}")));
            }
        }
        let mut set = self.keys.write().await;
        let may_fetch = set
            .fetched
            .is_none_or(|at| at.elapsed() >= self.config.jwks_refetch_floor);
        if may_fetch && set.keys.find(kid).is_none() {
            let fetched: JwkSet = self.get_json(self.endpoint("jwks")?, None).await?;
            set.keys = fetched;
            set.fetched = Some(Instant::now());
        }
        let jwk = set
            .keys
            .find(kid)
            .ok_or_else(|| VerifyError::Unauthenticated(format!("unknown key {kid:?}")))?;
        DecodingKey::from_jwk(jwk).map_err(|e| VerifyError::Unauthenticated(format!("unusable key: {e}")))
    }

    /// Verifies a session by asking `get-session` (answers Castellan confirmed within the cache
    /// TTL are reused; refusals never are).
    ///
    /// # Errors
    /// [`VerifyError::Unauthenticated`] when Castellan knows no such session (or the user is
    /// banned); [`VerifyError::Unavailable`] when it cannot be asked.
    pub async fn verify_session(&self, credential: Credential<'_>) -> Result<SignedIn, VerifyError> {
        let key = credential.cache_key();
        {
            let cache = self.sessions.lock().await;
            if let Some((signed_in, at)) = cache.get(&key)
                && at.elapsed() < self.config.session_cache_ttl
            {
                return Ok(signed_in.clone());
            }
        }
        let answer: Option<SignedIn> = self
            .get_json(
                self.endpoint("get-session?disableCookieCache=true")?,
                Some(credential),
            )
            .await?;
        let signed_in = answer.ok_or_else(|| VerifyError::Unauthenticated("no valid session".to_owned()))?;
        let mut cache = self.sessions.lock().await;
        if cache.len() >= self.config.session_cache_capacity {
            let ttl = self.config.session_cache_ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
            if cache.len() >= self.config.session_cache_capacity {
                cache.clear();
            }
        }
        cache.insert(key, (signed_in.clone(), Instant::now()));
        Ok(signed_in)
    }

    /// The signed-in user's membership in their active organization; `None` without one.
    ///
    /// # Errors
    /// As [`Verifier::verify_session`].
    pub async fn active_member(&self, credential: Credential<'_>) -> Result<Option<Member>, VerifyError> {
        let signed_in = self.verify_session(credential).await?;
        if signed_in.session.active_organization_id.is_none() {
            return Ok(None);
        }
        self.get_json(self.endpoint("organization/get-active-member")?, Some(credential))
            .await
    }

    /// Whether the signed-in user may do `permissions` (e.g. `{"member": ["create"]}`) in the
    /// active organization, as Castellan's policies decide.
    ///
    /// # Errors
    /// As [`Verifier::verify_session`]; [`VerifyError::Forbidden`] is left to the caller (the
    /// answer is `Ok(false)`).
    pub async fn has_permission(
        &self,
        credential: Credential<'_>,
        permissions: &Value,
    ) -> Result<bool, VerifyError> {
        let url = self.endpoint("organization/has-permission")?;
        let request = self
            .authorized(self.http.post(url), Some(credential))
            .json(&serde_json::json!({ "permissions": permissions }));
        let answer: Value = Self::read(request.send().await).await?;
        Ok(answer.get("success").and_then(Value::as_bool).unwrap_or(false))
    }

    /// Like [`Verifier::has_permission`], but a refusal is [`VerifyError::Forbidden`].
    ///
    /// # Errors
    /// As [`Verifier::has_permission`], and `Forbidden` when not permitted.
    pub async fn require_permission(
        &self,
        credential: Credential<'_>,
        permissions: &Value,
    ) -> Result<(), VerifyError> {
        if self.has_permission(credential, permissions).await? {
            Ok(())
        } else {
            Err(VerifyError::Forbidden(format!("not permitted: {permissions}")))
        }
    }

    fn authorized(
        &self,
        request: reqwest::RequestBuilder,
        credential: Option<Credential<'_>>,
    ) -> reqwest::RequestBuilder {
        // Castellan's CSRF check wants a trusted Origin on cookie-carrying writes: its own is.
        let request = request.header("origin", &self.config.issuer);
        match credential {
            Some(Credential::Cookie(c)) => request.header("cookie", c),
            Some(Credential::Bearer(b)) => request.bearer_auth(b),
            None => request,
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        credential: Option<Credential<'_>>,
    ) -> Result<T, VerifyError> {
        Self::read(self.authorized(self.http.get(url), credential).send().await).await
    }

    async fn read<T: serde::de::DeserializeOwned>(
        sent: reqwest::Result<reqwest::Response>,
    ) -> Result<T, VerifyError> {
        let response = sent.map_err(|e| VerifyError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(VerifyError::Unavailable(format!(
                "the auth server answered {status}"
            )));
        }
        match status.as_u16() {
            401 => {
                return Err(VerifyError::Unauthenticated(
                    "refused by the auth server".to_owned(),
                ));
            }
            403 => return Err(VerifyError::Forbidden("refused by the auth server".to_owned())),
            _ if !status.is_success() => {
                return Err(VerifyError::Unauthenticated(format!(
                    "the auth server answered {status}"
                )));
            }
            _ => {}
        }
        response
            .json()
            .await
            .map_err(|e| VerifyError::Unavailable(format!("unreadable answer: {e}")))
    }
}
