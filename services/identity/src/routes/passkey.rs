//! Passkeys on `@better-auth/passkey` 1.7.6's wire: registration and sign-in ceremonies, and
//! the signed-in user's list, rename and delete. The ceremony's token travels in the signed
//! `better-auth-passkey` cookie.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_data::entity::passkey;
use castellan_http::body::query_object;
use castellan_http::respond::{self, SessionView, UserView, iso};
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use castellan_session::AuthSession;
use serde_json::{Value, json};

use super::validated;
use crate::domain::IdentityService;
use crate::domain::passkey::{self as ceremony, Begun, CEREMONY_SECONDS};
use crate::error::IdentityError;

/// The challenge cookie's name after the `better-auth.` prefix (the plugin's
/// `webAuthnChallengeCookie`).
const CHALLENGE_COOKIE: &str = "better-auth-passkey";

/// A passkey row as Better Auth returns it.
fn view(p: &passkey::Model) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "publicKey": p.public_key,
        "userId": p.user_id,
        "credentialID": p.credential_id,
        "counter": p.counter,
        "deviceType": p.device_type,
        "backedUp": p.backed_up,
        "transports": p.transports,
        "createdAt": p.created_at.as_ref().map(iso),
        "aaguid": p.aaguid,
    })
}

/// The request's `Origin`, when it is one of the deployment's trusted origins: the origin a
/// ceremony is checked against unless `PASSKEY_ORIGIN` names them.
fn trusted_origin(req: &HttpRequest, state: &AuthState) -> Option<String> {
    castellan_http::origin::trusted_request_origin(req.headers(), &state.origins)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn challenge_token(req: &HttpRequest, state: &AuthState) -> Option<String> {
    state.cookies.read_signed(req, CHALLENGE_COOKIE)
}

/// The options, with the cookie that names the ceremony's state.
fn begun(state: &AuthState, begun: &Begun) -> HttpResponse {
    let cookie = state
        .cookies
        .signed(CHALLENGE_COOKIE, &begun.token, Some(CEREMONY_SECONDS));
    respond::with_cookies(respond::json(&begun.options), &[cookie])
}

/// Registration needs the user's own, recent sign-in: not an API key, not an operator
/// impersonating them, not a session older than `freshAge`.
fn registrant(state: &AuthState, current: MaybeSession) -> Result<AuthSession, ApiError> {
    if current.via_api_key {
        return Err(ApiError::unauthorized());
    }
    let auth = current.require()?;
    if auth.session.impersonated_by.is_some() {
        return Err(IdentityError::ImpersonationForbidden.into());
    }
    if !state.sessions.is_fresh(&auth) {
        return Err(IdentityError::SessionNotFresh.into());
    }
    Ok(auth)
}

pub async fn generate_register_options(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let attachment = f
        .has("authenticatorAttachment")
        .then(|| f.one_of("authenticatorAttachment", &["platform", "cross-platform"]))
        .flatten();
    let name = f.optional_string("name");
    let context = f.optional_string("context");
    f.finish()?;
    let auth = registrant(&state, current)?;
    let begun_now = identity
        .begin_passkey_registration(
            &auth.user,
            name.as_deref().filter(|n| !n.is_empty()),
            attachment.as_deref().and_then(ceremony::attachment),
            context,
        )
        .await?;
    Ok(begun(&state, &begun_now))
}

pub async fn verify_registration(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let response = f.raw("response").cloned();
    let name = f.optional_string("name").map(|n| n.trim().to_owned());
    let create_session = f.optional_bool("createSession").unwrap_or(false);
    f.finish()?;
    let auth = registrant(&state, current)?;
    let response = response
        .filter(Value::is_object)
        .ok_or(IdentityError::PasskeyRegistrationFailed)?;
    let stored = identity
        .finish_passkey_registration(
            &auth.user,
            challenge_token(&req, &state).as_deref(),
            trusted_origin(&req, &state).as_deref(),
            &response,
            name,
        )
        .await?;
    if !create_session {
        let spent = state.cookies.expired(CHALLENGE_COOKIE);
        return Ok(respond::with_cookies(respond::json(&view(&stored)), &[spent]));
    }
    let created = state
        .sessions
        .create(
            &auth.user,
            castellan_session::Authentication::by(ceremony::METHOD),
            &state.client(&req),
            false,
        )
        .await
        .map_err(IdentityError::from)?;
    Ok(signed_in(&state, view(&stored), &created))
}

/// `body` with the new session and its user, the session's cookies set and the spent
/// challenge cookie cleared.
fn signed_in(state: &AuthState, mut body: Value, created: &AuthSession) -> HttpResponse {
    if let Some(o) = body.as_object_mut() {
        o.insert("session".into(), json!(SessionView::from(&created.session)));
        o.insert("user".into(), json!(UserView::from(&created.user)));
    }
    let mut cookies = respond::session_cookies(state, &created.session.token, false);
    cookies.push(state.cookies.expired(CHALLENGE_COOKIE));
    respond::with_cookies(respond::json(&body), &cookies)
}

pub async fn generate_authenticate_options(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let user = current.session.map(|auth| auth.user);
    let begun_now = identity.begin_passkey_authentication(user.as_ref()).await?;
    Ok(begun(&state, &begun_now))
}

pub async fn verify_authentication(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let response = f.record("response");
    f.finish()?;
    let response = Value::Object(validated(response)?);
    let session = identity
        .finish_passkey_authentication(
            challenge_token(&req, &state).as_deref(),
            trusted_origin(&req, &state).as_deref(),
            &response,
            &state.client(&req),
        )
        .await?;
    Ok(signed_in(&state, json!({}), &session))
}

pub async fn list_user_passkeys(
    Service(identity): Service<IdentityService>,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let auth = current.require()?;
    let rows = identity.passkeys_of(&auth.user).await?;
    Ok(respond::json(&rows.iter().map(view).collect::<Vec<_>>()))
}

pub async fn delete_passkey(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("id");
    f.finish()?;
    let auth = current.require()?;
    identity.delete_passkey(&auth.user, &validated(id)?).await?;
    Ok(respond::json(&json!({ "status": true })))
}

pub async fn update_passkey(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("id");
    let name = f.trimmed_non_empty_string("name");
    f.finish()?;
    let auth = current.require()?;
    let renamed = identity
        .rename_passkey(&auth.user, &validated(id)?, &validated(name)?)
        .await?;
    Ok(respond::json(&json!({ "passkey": view(&renamed) })))
}
