//! Two-factor endpoints (`/two-factor/*`, Better Auth's two-factor plugin).

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::cookies::DONT_REMEMBER;
use castellan_http::respond::{self, UserView};
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::json;

use super::validated;
use crate::domain::IdentityService;
use crate::domain::two_factor::{Passed, Proof};
use crate::error::IdentityError;

pub const TWO_FACTOR: &str = "two_factor";
pub const TWO_FACTOR_MAX_AGE: u64 = 600;
pub const TRUST_DEVICE: &str = "trust_device";
pub const TRUST_DEVICE_MAX_AGE: u64 = 30 * 24 * 3600;

fn password(body: &Body) -> Result<String, ApiError> {
    let mut f = Fields::body(body.get())?;
    let p = f.string("password");
    f.finish()?;
    validated(p)
}

pub async fn enable(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let password = f.string("password");
    let issuer = f.optional_string("issuer");
    f.finish()?;
    let auth = current.require()?;
    let e = identity
        .enable_two_factor(&auth, &validated(password)?, issuer.as_deref())
        .await?;
    Ok(respond::json(
        &json!({ "method": "totp", "totpURI": e.totp_uri, "backupCodes": e.backup_codes }),
    ))
}

pub async fn disable(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let password = password(&body)?;
    let auth = current.require()?;
    identity.disable_two_factor(&auth, &password).await?;
    Ok(respond::with_cookies(
        respond::json(&json!({ "status": true })),
        &[state.cookies.expired(TRUST_DEVICE)],
    ))
}

pub async fn get_totp_uri(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let password = password(&body)?;
    let auth = current.require()?;
    let uri = identity.totp_uri(&auth, &password).await?;
    Ok(respond::json(&json!({ "totpURI": uri })))
}

pub async fn generate_backup_codes(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let password = password(&body)?;
    let auth = current.require()?;
    let codes = identity.regenerate_backup_codes(&auth, &password).await?;
    Ok(respond::json(&json!({ "status": true, "backupCodes": codes })))
}

/// What a verification call proves against: the session, else the challenge cookie.
fn proof<'a>(
    req: &HttpRequest,
    state: &AuthState,
    current: &'a MaybeSession,
    challenge: &'a mut Option<String>,
) -> Result<Proof<'a>, ApiError> {
    if let Some(auth) = &current.session {
        if auth.session.impersonated_by.is_some() {
            return Err(IdentityError::ImpersonationForbidden.into());
        }
        return Ok(Proof::Session(auth));
    }
    *challenge = state.cookies.read_signed(req, TWO_FACTOR);
    match challenge.as_deref() {
        Some(id) => Ok(Proof::Challenge {
            id,
            dont_remember: state.cookies.read_signed(req, DONT_REMEMBER).is_some(),
        }),
        None => Err(IdentityError::InvalidTwoFactorCookie.into()),
    }
}

/// `{token, user}` with the session's cookies; a finished challenge also clears its cookie.
fn passed(state: &AuthState, p: &Passed, from_challenge: bool) -> HttpResponse {
    let body = json!({ "token": p.session.session.token, "user": UserView::from(&p.session.user) });
    let mut cookies = Vec::new();
    if p.rotated {
        cookies = respond::session_cookies(state, &p.session.session.token, p.dont_remember);
    }
    if from_challenge {
        cookies.push(state.cookies.expired(TWO_FACTOR));
    }
    if let Some(trust) = &p.trust_cookie {
        cookies.push(
            state
                .cookies
                .signed(TRUST_DEVICE, trust, Some(TRUST_DEVICE_MAX_AGE)),
        );
        cookies.push(state.cookies.expired(DONT_REMEMBER));
    }
    respond::with_cookies(respond::json(&body), &cookies)
}

fn code_and_trust(body: &Body) -> Result<(String, bool), ApiError> {
    let mut f = Fields::body(body.get())?;
    let code = f.string("code");
    let trust = f.optional_bool("trustDevice").unwrap_or(false);
    f.finish()?;
    Ok((validated(code)?, trust))
}

/// The three ways to answer a challenge (or re-verify while signed in).
#[derive(Clone, Copy)]
enum Factor {
    Totp,
    BackupCode,
    MailedCode,
}

async fn verify(
    service: IdentityService,
    state: &AuthState,
    req: &HttpRequest,
    body: &Body,
    current: MaybeSession,
    factor: Factor,
) -> Result<HttpResponse, ApiError> {
    let (code, trust) = code_and_trust(body)?;
    let mut challenge = None;
    let p = proof(req, state, &current, &mut challenge)?;
    let from_challenge = matches!(p, Proof::Challenge { .. });
    let client = state.client(req);
    let done = match factor {
        Factor::Totp => service.verify_totp(p, &code, trust, &client).await?,
        Factor::BackupCode => service.verify_backup_code(p, &code, trust, &client).await?,
        Factor::MailedCode => service.verify_otp(p, &code, trust, &client).await?,
    };
    Ok(passed(state, &done, from_challenge))
}

pub async fn verify_totp(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    verify(identity, &state, &req, &body, current, Factor::Totp).await
}

pub async fn verify_backup_code(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    verify(identity, &state, &req, &body, current, Factor::BackupCode).await
}

pub async fn verify_otp(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    verify(identity, &state, &req, &body, current, Factor::MailedCode).await
}

pub async fn send_otp(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    _body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut challenge = None;
    let p = proof(&req, &state, &current, &mut challenge)?;
    identity.send_otp(p).await?;
    Ok(respond::json(&json!({ "status": true })))
}
