//! Password reset: request the mail, land from its link, set the new password.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::{query_object, query_param};
use castellan_http::{ApiError, AuthState, Body, Fields, Service, respond};
use serde_json::json;

use super::{validated, with_error};
use crate::domain::IdentityService;
use crate::error::IdentityError;

const RESET_REQUESTED: &str = "If this email exists in our system, check your email for the reset link";

pub async fn request(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let email = f.email("email");
    let redirect_to = f.optional_string("redirectTo");
    f.finish()?;
    let email = validated(email)?;
    castellan_http::rate_limit::limit_address(&state, super::REQUEST_PASSWORD_RESET, &email).await?;
    identity
        .request_password_reset(&email, redirect_to.as_deref())
        .await?;
    Ok(respond::json(
        &json!({ "status": true, "message": RESET_REQUESTED }),
    ))
}

/// `GET /reset-password/{token}`: redirects to the app's reset page with the token, or with
/// `?error=INVALID_TOKEN`. Does not consume the token.
pub async fn landing(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let callback_url = f.string("callbackURL");
    f.finish()?;
    let callback_url = validated(callback_url)?;
    castellan_http::origin::check_callback_url(&state.origins, &callback_url)?;
    // Relative callbacks are resolved against the public origin, as Better Auth does.
    let target = if callback_url.starts_with('/') {
        format!("{}{callback_url}", state.settings.origin())
    } else if callback_url.is_empty() {
        format!("{}/error", state.settings.auth_url())
    } else {
        callback_url
    };
    let valid = identity.reset_token_is_valid(&token).await?;
    Ok(if valid {
        let sep = if target.contains('?') { '&' } else { '?' };
        respond::redirect(&format!("{target}{sep}token={}", token.as_str()))
    } else {
        respond::redirect(&with_error(&target, "INVALID_TOKEN"))
    })
}

pub async fn reset(
    Service(identity): Service<IdentityService>,
    req: HttpRequest,
    body: Body,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let new_password = f.string("newPassword");
    let token = f.optional_string("token");
    f.finish()?;
    let token = token
        .or_else(|| query_param(&req, "token"))
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(IdentityError::InvalidResetToken.into());
    };
    identity.reset_password(&token, &validated(new_password)?).await?;
    Ok(respond::json(&json!({ "status": true })))
}
