//! Better Auth's cookie cache (`session.cookieCache`, its default `compact` strategy): the
//! session and user as `get-session` answers them, in a signed `session_data` cookie, so a
//! frontend's repeated `get-session` (and a backend that shares the secret) skips the session
//! store for up to `SESSION_COOKIE_CACHE_MAX_AGE` seconds.
//!
//! The trade-off: for that long, `get-session` from a browser that holds the cookie does not see
//! a revocation, a ban or a change made elsewhere. Only `get-session` reads the cache; every
//! other endpoint checks the session store. Any successful write from the browser drops the
//! cookie ([`drop_after_writes`]), so its next `get-session` is fresh; `disableCookieCache=true`
//! asks for a fresh answer at any time.
//!
//! Wire value: base64url (unpadded) of `{session: {session, user, updatedAt, version},
//! expiresAt, signature}`, where `signature` is the unpadded base64url HMAC-SHA256, under the
//! secret, of the JSON of `{session, user, updatedAt, version, expiresAt}` in that order.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::SET_COOKIE;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use castellan_session::AuthSession;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::cookies::SESSION_DATA;
use crate::respond::{SessionView, UserView};
use crate::state::AuthState;

/// The cached payload's version (Better Auth's `cookieCache.version` default).
const VERSION: &str = "1";
/// Better Auth splits larger values into chunks; Castellan just does not cache them.
const MAX_VALUE_BYTES: usize = 4000;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    session: Value,
    user: Value,
    updated_at: i64,
    version: String,
}

/// What the signature covers: the payload's fields, then `expiresAt`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Signed<'a> {
    session: &'a Value,
    user: &'a Value,
    updated_at: i64,
    version: &'a str,
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    session: Payload,
    expires_at: i64,
    signature: String,
}

/// A `get-session` answer read from a valid cookie.
pub struct Cached {
    pub session: Value,
    pub user: Value,
}

impl Cached {
    #[must_use]
    pub fn token(&self) -> Option<&str> {
        self.session.get("token").and_then(Value::as_str)
    }
}

fn signed_bytes(payload: &Payload, expires_at: i64) -> Option<Vec<u8>> {
    serde_json::to_vec(&Signed {
        session: &payload.session,
        user: &payload.user,
        updated_at: payload.updated_at,
        version: &payload.version,
        expires_at,
    })
    .ok()
}

fn now_ms(state: &AuthState) -> i64 {
    state.sessions.now().timestamp_millis()
}

/// The `Set-Cookie` caching `auth` for this browser, when the cache is on (and the value fits
/// in one cookie). "Don't remember me" sessions get a cookie that ends with the browser.
#[must_use]
pub fn issue(state: &AuthState, auth: &AuthSession, dont_remember: bool) -> Option<String> {
    let max_age = state.settings.session_cookie_cache?;
    let payload = Payload {
        session: serde_json::to_value(SessionView::from(&auth.session)).ok()?,
        user: serde_json::to_value(UserView::from(&auth.user)).ok()?,
        updated_at: now_ms(state),
        version: VERSION.to_owned(),
    };
    let expires_at = payload.updated_at + i64::try_from(max_age.as_millis()).ok()?;
    let message = signed_bytes(&payload, expires_at)?;
    let signature = castellan_crypto::signing::hmac_b64url(state.cookies.secrets().current(), &message);
    let envelope = Envelope {
        session: payload,
        expires_at,
        signature,
    };
    let value = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&envelope).ok()?);
    (value.len() <= MAX_VALUE_BYTES).then(|| {
        state.cookies.plain(
            SESSION_DATA,
            &value,
            (!dont_remember).then_some(max_age.as_secs()),
        )
    })
}

/// The cached answer for the session `token`, if the request holds a cookie for it that is
/// signed (by the current secret or an earlier one), of this version and unexpired, and whose
/// session has not expired either.
#[must_use]
pub fn read(state: &AuthState, req: &HttpRequest, token: &str) -> Option<Cached> {
    state.settings.session_cookie_cache?;
    let raw = crate::cookies::read_cookie(req, &state.cookies.name(SESSION_DATA))?;
    let envelope: Envelope = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let message = signed_bytes(&envelope.session, envelope.expires_at)?;
    let genuine = state.cookies.secrets().verification_keys().any(|key| {
        let expected = castellan_crypto::signing::hmac_b64url(key, &message);
        bool::from(expected.as_bytes().ct_eq(envelope.signature.as_bytes()))
    });
    let payload = envelope.session;
    let now = now_ms(state);
    let session_alive = payload
        .session
        .get("expiresAt")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t.timestamp_millis() > now);
    let cached = Cached {
        session: payload.session,
        user: payload.user,
    };
    (genuine
        && payload.version == VERSION
        && envelope.expires_at > now
        && session_alive
        && cached.token() == Some(token))
    .then_some(cached)
}

/// Middleware: a successful write from a browser that holds a cached session drops the cache,
/// so that browser's next `get-session` reads the store and shows the change (Better Auth's
/// cache stays stale there, issues #5932 and #11275).
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn drop_after_writes<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = req.app_data::<web::Data<AuthState>>().cloned();
    let mut res = next.call(req).await?;
    let Some(state) = state.filter(|s| is_write && s.settings.session_cookie_cache.is_some()) else {
        return Ok(res);
    };
    let name = state.cookies.name(SESSION_DATA);
    let held = crate::cookies::read_cookie(res.request(), &name).is_some();
    let prefix = format!("{name}=");
    let set_here = res
        .headers()
        .get_all(SET_COOKIE)
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&prefix)));
    if held && !set_here && (res.status().is_success() || res.status().is_redirection()) {
        let expired = state.cookies.expired(SESSION_DATA);
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&expired) {
            res.headers_mut().append(SET_COOKIE, v);
        }
    }
    Ok(res)
}
