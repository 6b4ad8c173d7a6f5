//! Session endpoints: get-session and the list/revoke family.

use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_param;
use castellan_http::respond::{self, SessionView, UserView};
use castellan_http::session::presented_token;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, cookie_cache};
use serde::Serialize;
use serde_json::json;

use super::validated;
use crate::error::IdentityError;

#[derive(Serialize)]
struct SessionAndUser<'a> {
    session: SessionView<'a>,
    user: UserView<'a>,
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    let h = res.headers_mut();
    h.insert(
        CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    h.insert(
        PRAGMA,
        actix_web::http::header::HeaderValue::from_static("no-cache"),
    );
    res
}

/// Better Auth coerces these flags: any non-empty value, even "false", turns them on.
fn flag(req: &HttpRequest, name: &str) -> bool {
    query_param(req, name).is_some_and(|v| !v.is_empty())
}

/// `GET /get-session`: `null` without a session; otherwise the session and user, extending the
/// session (and re-issuing its cookie) once `updateAge` has passed. With the cookie cache on, a
/// valid `session_data` cookie answers without the session store (see
/// `castellan_http::cookie_cache`), and every answer from the store refreshes that cookie.
pub async fn get_session(state: web::Data<AuthState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    // The cache off (the default), no cookie is read or verified for it.
    if state.settings.session_cookie_cache.is_some()
        && !flag(&req, "disableCookieCache")
        && let Some(token) = state
            .cookies
            .read_signed(&req, castellan_http::cookies::SESSION_TOKEN)
        && let Some(cached) = cookie_cache::read(&state, &req, &token)
    {
        let jwt = super::jwt::cached_session_token_for(&state, &cached).await?;
        let body = json!({ "session": cached.session, "user": cached.user });
        return Ok(with_jwt(no_store(respond::json(&body)), &jwt));
    }
    let current = <MaybeSession as actix_web::FromRequest>::extract(&req).await?;
    let disable_refresh = flag(&req, "disableRefresh");
    let Some(mut auth) = current.session else {
        let res = no_store(respond::json(&serde_json::Value::Null));
        let presented = castellan_http::cookies::read_cookie(
            &req,
            &state.cookies.name(castellan_http::cookies::SESSION_TOKEN),
        );
        return Ok(if presented.is_some() {
            respond::with_cookies(res, &respond::cleared_session_cookies(&state))
        } else {
            res
        });
    };
    let mut set_cookies = Vec::new();
    if !current.dont_remember && !current.via_api_key && !disable_refresh && state.sessions.refresh_due(&auth)
    {
        if !state.sessions.extend(&mut auth).await? {
            let err = actix_web::ResponseError::error_response(&ApiError::from(IdentityError::SessionGone));
            return Ok(respond::with_cookies(
                err,
                &respond::cleared_session_cookies(&state),
            ));
        }
        set_cookies = respond::session_cookies(&state, &auth.session.token, false);
    }
    if !current.via_api_key
        && let Some(cached) = cookie_cache::issue(&state, &auth, current.dont_remember)
    {
        set_cookies.push(cached);
    }
    let body = SessionAndUser {
        session: SessionView::from(&auth.session),
        user: UserView::from(&auth.user),
    };
    let res = respond::with_cookies(no_store(respond::json(&body)), &set_cookies);
    // Better Auth's jwt plugin: a JWT for downstream backends rides along.
    let jwt = super::jwt::session_token_for(&state, &auth).await?;
    Ok(with_jwt(res, &jwt))
}

fn with_jwt(mut res: HttpResponse, jwt: &str) -> HttpResponse {
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(jwt) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("set-auth-jwt"),
            value,
        );
        castellan_http::bearer::expose_header(res.headers_mut(), "set-auth-jwt");
    }
    res
}

/// Better Auth only accepts POST here with `deferSessionRefresh`, which Castellan does not need.
pub async fn post_get_session() -> Result<HttpResponse, ApiError> {
    Err(IdentityError::DeferredRefreshRequired.into())
}

/// Needs a fresh session: the answer contains every device's token.
pub async fn list_sessions(
    state: web::Data<AuthState>,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let auth = current.require()?;
    if !state.sessions.is_fresh(&auth) {
        return Err(IdentityError::SessionNotFresh.into());
    }
    let rows = state.sessions.list(&auth.user.id).await?;
    // Impersonation sessions are the operator's, not the user's (Better Auth's admin plugin).
    let views: Vec<SessionView<'_>> = rows
        .iter()
        .filter(|s| s.impersonated_by.is_none())
        .map(SessionView::from)
        .collect();
    Ok(respond::json(&views))
}

/// Revokes one of the caller's own sessions; other users' tokens are silently ignored.
pub async fn revoke_session(
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let token = f.string("token");
    f.finish()?;
    let auth = current.require()?;
    let token = validated(token)?;
    if let Some(target) = state.sessions.find(&token).await?
        && target.session.user_id == auth.user.id
    {
        state.sessions.revoke(&token).await?;
    }
    Ok(respond::json(&json!({ "status": true })))
}

pub async fn revoke_sessions(
    state: web::Data<AuthState>,
    _body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let auth = current.require()?;
    state.sessions.revoke_all(&auth.user.id, None).await?;
    Ok(respond::json(&json!({ "status": true })))
}

pub async fn revoke_other_sessions(
    state: web::Data<AuthState>,
    req: HttpRequest,
    _body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let auth = current.require()?;
    let keep = presented_token(&req, &state).unwrap_or_else(|| auth.session.token.clone());
    state.sessions.revoke_all(&auth.user.id, Some(&keep)).await?;
    Ok(respond::json(&json!({ "status": true })))
}
