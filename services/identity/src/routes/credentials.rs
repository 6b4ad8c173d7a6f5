//! Sign-up, sign-in, sign-out and password endpoints.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::CredentialForm;
use castellan_http::respond::{self, UserView};
use castellan_http::session::presented_token;
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::json;

use super::validated;
use crate::domain::IdentityService;
use crate::domain::accounts::{SignInMode, SignInOutcome, SignUp};
use crate::domain::uri_component;
use crate::error::IdentityError;
use crate::routes::two_factor::{TRUST_DEVICE, TRUST_DEVICE_MAX_AGE, TWO_FACTOR, TWO_FACTOR_MAX_AGE};

/// User fields only the server may set (Better Auth's `input: false`).
const SERVER_ONLY_USER_FIELDS: [&str; 6] = [
    "emailVerified",
    "role",
    "banned",
    "banReason",
    "banExpires",
    "twoFactorEnabled",
];

fn truthy(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

pub async fn sign_up(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body<CredentialForm>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let name = f.string("name");
    let email = f.email("email");
    let password = f.non_empty_string("password");
    let image = f.optional_string("image");
    let callback_url = f.optional_string("callbackURL");
    let remember = f.optional_bool("rememberMe").unwrap_or(true);
    if let Some(field) = SERVER_ONLY_USER_FIELDS
        .iter()
        .find(|k| f.raw(k).is_some_and(truthy))
    {
        return Err(IdentityError::FieldNotAllowed((*field).to_owned()).into());
    }
    f.finish()?;
    let request = SignUp {
        name: validated(name)?,
        email: validated(email)?,
        password: validated(password)?,
        image,
        remember,
        callback_url,
    };
    let client = state.client(&req);
    let done = identity.sign_up(request, &client).await?;
    let token = done.session.as_ref().map(|s| s.session.token.as_str());
    let res = respond::json(&json!({ "token": token, "user": UserView::from(&done.user) }));
    Ok(match &done.session {
        Some(s) => respond::with_cookies(
            res,
            &respond::session_cookies(&state, &s.session.token, !remember),
        ),
        None => res,
    })
}

pub async fn sign_in(
    identity: Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body<CredentialForm>,
) -> Result<HttpResponse, ApiError> {
    sign_in_by(SignInMode::Password, identity, state, req, body).await
}

/// `POST /sign-in/break-glass` (Castellan's own): an owner's password sign-in past their
/// organization's SSO requirement, audited; the same body and answers as `sign-in/email`.
pub async fn break_glass_sign_in(
    identity: Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body<CredentialForm>,
) -> Result<HttpResponse, ApiError> {
    sign_in_by(SignInMode::BreakGlass, identity, state, req, body).await
}

async fn sign_in_by(
    mode: SignInMode,
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body<CredentialForm>,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    let password = f.string("password");
    let callback_url = f.optional_string("callbackURL");
    let remember = f.optional_bool("rememberMe").unwrap_or(true);
    f.finish()?;
    let client = state.client(&req);
    let trust = state.cookies.read_signed(&req, TRUST_DEVICE);
    let email = validated(email)?;
    let outcome = identity
        .sign_in(
            mode,
            &email,
            &validated(password)?,
            remember,
            trust.as_deref(),
            &client,
        )
        .await?;
    let (auth, trust_cookie) = match outcome {
        SignInOutcome::Session { auth, trust_cookie } => (auth, trust_cookie),
        SignInOutcome::SecondFactor { challenge } => {
            // Better Auth's two-factor hook: no session yet, a signed challenge cookie instead.
            let mut cookies = vec![
                state
                    .cookies
                    .signed(TWO_FACTOR, &challenge, Some(TWO_FACTOR_MAX_AGE)),
            ];
            cookies.push(state.cookies.expired(castellan_http::cookies::SESSION_TOKEN));
            if !remember {
                cookies.push(
                    state
                        .cookies
                        .signed(castellan_http::cookies::DONT_REMEMBER, "true", None),
                );
            }
            let body = json!({ "twoFactorRedirect": true, "twoFactorMethods": ["totp", "otp"] });
            return Ok(respond::with_cookies(respond::json(&body), &cookies));
        }
        SignInOutcome::Sso { provider_id } => {
            // The official client follows `{url, redirect: true}`; the link starts the SSO sign-in.
            let url = format!(
                "{}/sso/sign-in?providerId={}&callbackURL={}&loginHint={}",
                state.settings.auth_url(),
                uri_component(&provider_id),
                uri_component(callback_url.as_deref().unwrap_or("/")),
                uri_component(&email),
            );
            return Ok(respond::json(&json!({ "redirect": true, "url": url })));
        }
    };
    let mut body = json!({
        "redirect": callback_url.is_some(),
        "token": auth.session.token,
        "user": UserView::from(&auth.user),
    });
    if let (Some(url), Some(obj)) = (&callback_url, body.as_object_mut()) {
        obj.insert("url".to_owned(), url.clone().into());
    }
    let mut res = respond::json(&body);
    if let Some(url) = &callback_url
        && let Ok(v) = actix_web::http::header::HeaderValue::from_str(url)
    {
        res.headers_mut().insert(actix_web::http::header::LOCATION, v);
    }
    let mut cookies = respond::session_cookies(&state, &auth.session.token, !remember);
    if let Some(value) = trust_cookie {
        cookies.push(
            state
                .cookies
                .signed(TRUST_DEVICE, &value, Some(TRUST_DEVICE_MAX_AGE)),
        );
    }
    Ok(respond::with_cookies(res, &cookies))
}

/// Never fails for a missing session: it ends whatever session the request names.
pub async fn sign_out(
    state: web::Data<AuthState>,
    req: HttpRequest,
    _body: Body,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = presented_token(&req, &state) {
        state.sessions.revoke(&token).await?;
    }
    Ok(respond::with_cookies(
        respond::json(&json!({ "success": true })),
        &respond::cleared_session_cookies(&state),
    ))
}

pub async fn change_password(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let new_password = f.string("newPassword");
    let current_password = f.string("currentPassword");
    let revoke_others = f.optional_bool("revokeOtherSessions").unwrap_or(false);
    f.finish()?;
    let auth = current.require()?;
    let client = state.client(&req);
    let replaced = identity
        .change_password(
            &auth,
            &validated(current_password)?,
            &validated(new_password)?,
            revoke_others,
            &client,
        )
        .await?;
    let token = replaced.as_ref().map(|s| s.session.token.as_str());
    let res = respond::json(&json!({ "token": token, "user": UserView::from(&auth.user) }));
    Ok(match &replaced {
        Some(s) => respond::with_cookies(res, &respond::session_cookies(&state, &s.session.token, false)),
        None => res,
    })
}

pub async fn verify_password(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let password = f.string("password");
    f.finish()?;
    let auth = current.require()?;
    identity
        .verify_password(&auth.user.id, &validated(password)?)
        .await?;
    Ok(respond::json(&json!({ "status": true })))
}
