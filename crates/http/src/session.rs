//! The current-session extractor. Handlers never read cookies themselves: they take
//! [`MaybeSession`] and call [`MaybeSession::require`] after validating their input, so that
//! validation errors win over 401 as in Better Auth.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use castellan_session::{Actor, AuthSession};

use crate::cookies::{DONT_REMEMBER, SESSION_TOKEN};
use crate::error::ApiError;
use crate::state::AuthState;

pub struct MaybeSession {
    pub session: Option<AuthSession>,
    /// The signed `dont_remember` cookie is present: the session must not be extended.
    pub dont_remember: bool,
    /// The "session" is an API key standing in for its owner: there is no row to extend.
    pub via_api_key: bool,
}

impl MaybeSession {
    /// # Errors
    /// 401 `UNAUTHORIZED` without a valid session.
    pub fn require(self) -> Result<AuthSession, ApiError> {
        self.session.ok_or_else(ApiError::unauthorized)
    }

    /// The caller, with their client address and agent; call it after validating the input.
    ///
    /// # Errors
    /// 401 `UNAUTHORIZED` without a valid session.
    pub fn actor(self, req: &HttpRequest, state: &AuthState) -> Result<Actor, ApiError> {
        let auth = self.require()?;
        let client = state.client(req);
        Ok(Actor {
            auth,
            ip_address: Some(client.ip_address).filter(|s| !s.is_empty()),
            user_agent: Some(client.user_agent).filter(|s| !s.is_empty()),
        })
    }
}

/// The raw session token the request presents, if its signature is valid: a valid
/// `Authorization: Bearer` token wins over the session cookie, as with Better Auth's bearer plugin.
#[must_use]
pub fn presented_token(req: &HttpRequest, state: &AuthState) -> Option<String> {
    bearer_token(req, state).or_else(|| state.cookies.read_signed(req, SESSION_TOKEN))
}

/// `Authorization: Bearer <token.signature>` (either base64 alphabet, padding optional) or a bare
/// token. A bad signature is ignored, not an error: the request continues without it.
fn bearer_token(req: &HttpRequest, state: &AuthState) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    if token.is_empty() {
        return None;
    }
    if !token.contains('.') {
        return token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
            .then(|| token.to_owned());
    }
    let decoded = if token.contains('%') {
        percent_encoding::percent_decode_str(token)
            .decode_utf8_lossy()
            .into_owned()
    } else {
        token.to_owned()
    };
    state.cookies.verify_lenient(&decoded).map(str::to_owned)
}

impl FromRequest for MaybeSession {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    #[tracing::instrument(skip_all)]
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AuthState>>()
                .ok_or_else(|| ApiError::internal(&"AuthState is not registered"))?;
            let dont_remember = state.cookies.read_signed(&req, DONT_REMEMBER).is_some();
            let (session, via_api_key) = match presented_token(&req, state) {
                Some(token) => (state.sessions.find(&token).await?, false),
                None => match req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
                    Some(key) => (Some(api_key_session(state, key).await?), true),
                    None => (None, false),
                },
            };
            Ok(Self {
                session,
                dont_remember,
                via_api_key,
            })
        })
    }
}

/// An `x-api-key` standing in for its owner's session; a refused key is an error, not anonymity.
async fn api_key_session(state: &AuthState, key: &str) -> Result<castellan_session::AuthSession, ApiError> {
    use actix_web::http::StatusCode;
    use castellan_session::api_keys::KeyRejection;
    match state.sessions.authenticate_api_key(key).await? {
        Ok(auth) => Ok(auth),
        Err(KeyRejection::Invalid) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_API_KEY",
            "Invalid API key.",
        )),
        Err(KeyRejection::Disabled) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "KEY_DISABLED",
            "API Key is disabled",
        )),
        Err(KeyRejection::Expired) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "KEY_EXPIRED",
            "API Key has expired",
        )),
        Err(KeyRejection::UsageExceeded) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "USAGE_EXCEEDED",
            "API Key has reached its usage limit",
        )),
        Err(KeyRejection::RateLimited { try_again_in_ms }) => Err(ApiError::with_extra(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "Rate limit exceeded.",
            serde_json::json!({ "details": { "tryAgainIn": try_again_in_ms } }),
        )),
    }
}
