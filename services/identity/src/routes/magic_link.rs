//! Magic links on Better Auth's wire: `POST /sign-in/magic-link` mails the link,
//! `GET /magic-link/verify` signs in through it.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_http::body::{CredentialForm, query_object};
use castellan_http::rate_limit::limit_address;
use castellan_http::respond::{self, SessionView, UserView};
use castellan_http::{ApiError, AuthState, Body, Fields, Service};
use serde_json::json;

use super::{validated, with_error};
use crate::domain::IdentityService;
use crate::domain::magic_link::LinkTargets;

pub async fn sign_in(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body<CredentialForm>,
) -> Result<HttpResponse, ApiError> {
    if !state.settings.magic_link.enabled {
        return Ok(HttpResponse::NotFound().finish());
    }
    let mut f = Fields::body(body.get())?;
    let email = f.email("email");
    let name = f.optional_string("name");
    let targets = LinkTargets {
        callback_url: f.optional_string("callbackURL"),
        new_user_callback_url: f.optional_string("newUserCallbackURL"),
        error_callback_url: f.optional_string("errorCallbackURL"),
    };
    let _metadata = f.optional_object("metadata");
    f.finish()?;
    let email = validated(email)?;
    limit_address(&state, "/sign-in/magic-link", &email).await?;
    identity.send_magic_link(&email, name, &targets).await?;
    Ok(respond::json(&json!({ "status": true })))
}

pub async fn verify(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if !state.settings.magic_link.enabled {
        return Ok(HttpResponse::NotFound().finish());
    }
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let token = f.string("token");
    let callback = f.optional_string("callbackURL");
    let new_user = f.optional_string("newUserCallbackURL");
    let on_error = f.optional_string("errorCallbackURL");
    f.finish()?;
    castellan_http::body::check_callback_params(&req, &state, None)?;
    // Better Auth resolves the targets against its base URL.
    let origin = state.settings.origin();
    let absolute = |u: &str| {
        if u.starts_with('/') && !u.starts_with("//") {
            format!("{origin}{u}")
        } else {
            u.to_owned()
        }
    };
    let signed_in = absolute(callback.as_deref().unwrap_or("/"));
    let failed = on_error.as_deref().map_or_else(|| signed_in.clone(), absolute);
    let created = new_user.as_deref().map_or_else(|| signed_in.clone(), absolute);
    let verified = match identity
        .verify_magic_link(&validated(token)?, &state.client(&req))
        .await?
    {
        Ok(v) => v,
        Err(refused) => return Ok(respond::redirect(&with_error(&failed, refused.code()))),
    };
    let cookies = respond::session_cookies(&state, &verified.auth.session.token, false);
    let res = if callback.is_none() {
        respond::json(&json!({
            "token": verified.auth.session.token,
            "user": UserView::from(&verified.auth.user),
            "session": SessionView::from(&verified.auth.session),
        }))
    } else if verified.is_new_user {
        respond::redirect(&created)
    } else {
        respond::redirect(&signed_in)
    };
    Ok(respond::with_cookies(res, &cookies))
}
