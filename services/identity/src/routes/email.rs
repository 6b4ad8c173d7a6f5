//! Email verification and email change.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::query_object;
use castellan_http::respond::{self, UserView};
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::json;

use super::{validated, with_error};
use crate::domain::IdentityService;

pub async fn send_verification_email(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let email = f.email("email");
    let callback_url = f.optional_string("callbackURL");
    f.finish()?;
    let email = validated(email)?;
    castellan_http::rate_limit::limit_address(&state, super::SEND_VERIFICATION_EMAIL, &email).await?;
    identity
        .request_verification(&email, callback_url.as_deref(), current.session.as_ref())
        .await?;
    Ok(respond::json(&json!({ "status": true })))
}

/// The link in the verification mail. With a `callbackURL` every outcome is a redirect
/// (failures as `?error=CODE`); without one, JSON.
pub async fn verify_email(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let token = f.string("token");
    let callback_url = f.optional_string("callbackURL").filter(|c| !c.is_empty());
    f.finish()?;
    if let Some(cb) = &callback_url {
        castellan_http::origin::check_callback_url(&state.origins, cb)?;
    }
    let token = validated(token)?;
    let outcome = match identity.verify_email(&token, current.session.as_ref()).await {
        Ok(o) => o,
        Err(e) => {
            return match &callback_url {
                Some(cb) => Ok(respond::redirect(&with_error(cb, e.redirect_code()))),
                None => Err(e.into()),
            };
        }
    };
    let mut cookies = Vec::new();
    if let Some(s) = &outcome.new_session {
        cookies = respond::session_cookies(&state, &s.session.token, false);
    } else if let (Some(_), Some(s)) = (&outcome.changed_user, &current.session) {
        cookies = respond::session_cookies(&state, &s.session.token, current.dont_remember);
    }
    let res = match &callback_url {
        Some(cb) => respond::redirect(cb),
        None => respond::json(&json!({
            "status": true,
            "user": outcome.changed_user.as_ref().map(UserView::from),
        })),
    };
    Ok(respond::with_cookies(res, &cookies))
}

pub async fn change_email(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let new_email = f.email("newEmail");
    let callback_url = f.optional_string("callbackURL");
    f.finish()?;
    let auth = current.require()?;
    identity
        .change_email(&auth, &validated(new_email)?, callback_url.as_deref())
        .await?;
    Ok(respond::json(&json!({ "status": true })))
}
