//! Email one-time codes on Better Auth's wire (its `emailOTP` plugin, `emailOTPClient`).

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::rate_limit::limit_address;
use castellan_http::respond::{self, UserView};
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::json;

use super::validated;
use crate::domain::IdentityService;
use crate::domain::email_otp::OtpPurpose;
use crate::domain::mailbox::NewProfile;

pub const SEND_VERIFICATION_OTP: &str = "/email-otp/send-verification-otp";
pub const CHECK_VERIFICATION_OTP: &str = "/email-otp/check-verification-otp";
pub const VERIFY_EMAIL: &str = "/email-otp/verify-email";
pub const SIGN_IN: &str = "/sign-in/email-otp";
pub const REQUEST_PASSWORD_RESET: &str = "/email-otp/request-password-reset";
pub const FORGET_PASSWORD: &str = "/forget-password/email-otp";
pub const RESET_PASSWORD: &str = "/email-otp/reset-password";
pub const REQUEST_EMAIL_CHANGE: &str = "/email-otp/request-email-change";
pub const CHANGE_EMAIL: &str = "/email-otp/change-email";

fn success() -> HttpResponse {
    respond::json(&json!({ "success": true }))
}

/// The endpoints answer 404 while `EMAIL_OTP=0`, as if the plugin were not installed.
fn served(state: &AuthState) -> Result<(), ApiError> {
    if state.settings.email_otp.enabled {
        Ok(())
    } else {
        Err(ApiError::empty(actix_web::http::StatusCode::NOT_FOUND))
    }
}

/// The `type` field: one of Better Auth's code types.
fn purpose(f: &mut Fields<'_>) -> Option<OtpPurpose> {
    let names = OtpPurpose::ALL.map(OtpPurpose::as_str);
    f.one_of("type", &names).and_then(|t| OtpPurpose::parse(&t))
}

pub async fn send_verification_otp(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    let purpose = purpose(&mut f);
    f.finish()?;
    let email = validated(email)?;
    limit_address(&state, SEND_VERIFICATION_OTP, &email).await?;
    identity.send_email_otp(&email, validated(purpose)?).await?;
    Ok(success())
}

pub async fn check_verification_otp(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    let purpose = purpose(&mut f);
    let otp = f.string("otp");
    f.finish()?;
    identity
        .check_email_otp(&validated(email)?, validated(purpose)?, &validated(otp)?)
        .await?;
    Ok(success())
}

pub async fn verify_email(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    let otp = f.string("otp");
    f.finish()?;
    let done = identity
        .verify_email_by_code(
            &validated(email)?,
            &validated(otp)?,
            current.session.is_some(),
            &state.client(&req),
        )
        .await?;
    let token = done.new_session.as_ref().map(|s| s.session.token.as_str());
    let res = respond::json(&json!({ "status": true, "token": token, "user": UserView::from(&done.user) }));
    Ok(match &done.new_session {
        Some(s) => respond::with_cookies(res, &respond::session_cookies(&state, &s.session.token, false)),
        None => res,
    })
}

pub async fn sign_in(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    let otp = f.string("otp");
    let name = f.optional_string("name");
    let image = f.optional_string("image");
    f.finish()?;
    let profile = NewProfile {
        name: name.unwrap_or_default(),
        image,
    };
    let auth = identity
        .sign_in_by_code(&validated(email)?, &validated(otp)?, profile, &state.client(&req))
        .await?;
    let res = respond::json(&json!({ "token": auth.session.token, "user": UserView::from(&auth.user) }));
    Ok(respond::with_cookies(
        res,
        &respond::session_cookies(&state, &auth.session.token, false),
    ))
}

/// `email-otp/request-password-reset` and its deprecated twin `forget-password/email-otp`.
pub async fn request_password_reset(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    f.finish()?;
    let email = validated(email)?;
    // Both paths share one count per address: they send the same mail.
    limit_address(&state, REQUEST_PASSWORD_RESET, &email).await?;
    identity
        .send_email_otp(&email, OtpPurpose::ForgetPassword)
        .await?;
    Ok(success())
}

pub async fn reset_password(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let email = f.string("email");
    let otp = f.string("otp");
    let password = f.string("password");
    f.finish()?;
    identity
        .reset_password_by_code(&validated(email)?, &validated(otp)?, &validated(password)?)
        .await?;
    Ok(success())
}

pub async fn request_email_change(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let new_email = f.string("newEmail");
    let otp = f.optional_string("otp");
    f.finish()?;
    let auth = current.require()?;
    let new_email = validated(new_email)?;
    limit_address(&state, REQUEST_EMAIL_CHANGE, &new_email).await?;
    identity
        .request_email_change_code(&auth, &new_email, otp.as_deref())
        .await?;
    Ok(success())
}

pub async fn change_email(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    served(&state)?;
    let mut f = Fields::body(body.get())?;
    let new_email = f.string("newEmail");
    let otp = f.string("otp");
    f.finish()?;
    let auth = current.require()?;
    identity
        .change_email_by_code(&auth, &validated(new_email)?, &validated(otp)?)
        .await?;
    Ok(success())
}
