//! JWTs for downstream backends: `GET /token` and `GET /jwks` (Better Auth's jwt plugin).

use actix_web::{HttpResponse, web};
use castellan_http::respond::{self, UserView};
use castellan_http::{ApiError, AuthState, MaybeSession};
use castellan_session::AuthSession;

use crate::error::IdentityError;
use serde_json::{Map, Value, json};

/// The JWT for a session's user: the user object as claims, plus the registered ones.
///
/// # Errors
/// Key storage failures.
pub async fn token_for(state: &AuthState, auth: &AuthSession) -> Result<String, ApiError> {
    let claims = match serde_json::to_value(UserView::from(&auth.user)) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    state
        .jwt
        .sign(claims, &auth.user.id)
        .await
        .map_err(|e| IdentityError::from(e).into())
}

/// The JWT `get-session` hands out in `set-auth-jwt`, reused for a while per session.
///
/// # Errors
/// Key storage failures.
pub async fn session_token_for(state: &AuthState, auth: &AuthSession) -> Result<String, ApiError> {
    let payload = || match serde_json::to_value(UserView::from(&auth.user)) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    state
        .jwt
        .for_session(&auth.session.token, auth.user.updated_at, payload, &auth.user.id)
        .await
        .map_err(|e| IdentityError::from(e).into())
}

/// The same JWT for a session answered from the cookie cache: its claims are the cached user.
///
/// # Errors
/// Signing failures; a cached user without an id or update time (not Castellan's cookie).
pub async fn cached_session_token_for(
    state: &AuthState,
    cached: &castellan_http::cookie_cache::Cached,
) -> Result<String, ApiError> {
    let user = cached.user.as_object().cloned().unwrap_or_default();
    let subject = user.get("id").and_then(Value::as_str).map(str::to_owned);
    let version = user
        .get("updatedAt")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let (Some(token), Some(subject), Some(version)) = (cached.token(), subject, version) else {
        return Err(ApiError::internal(&"a cached session without its user"));
    };
    state
        .jwt
        .for_session(token, version, || user, &subject)
        .await
        .map_err(|e| IdentityError::from(e).into())
}

pub async fn token(state: web::Data<AuthState>, current: MaybeSession) -> Result<HttpResponse, ApiError> {
    let auth = current.require()?;
    Ok(respond::json(
        &json!({ "token": token_for(&state, &auth).await? }),
    ))
}

pub async fn jwks(state: web::Data<AuthState>) -> Result<HttpResponse, ApiError> {
    let keys = state.jwt.jwks().await.map_err(IdentityError::from)?;
    Ok(respond::json(&json!({ "keys": keys })))
}
