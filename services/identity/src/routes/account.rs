//! Profile, linked accounts and account deletion.

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_data::repo::{accounts, users::ProfileChange};
use castellan_http::body::query_param;
use castellan_http::respond::{self, iso};
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use serde_json::json;

use super::validated;
use crate::domain::IdentityService;
use crate::domain::deletion::{DeleteRequest, DeletionOutcome};
use crate::error::IdentityError;

pub async fn update_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    // Better Auth's schema here is a record of anything: only "is it an object" is checked
    // before the session; the field types are checked after it.
    let mut f = Fields::body(body.get())?;
    let dont_remember = current.dont_remember;
    let auth = current.require()?;
    let name = f.optional_string("name");
    let image = f.nullable_string("image");
    let has_email = f.has("email");
    f.finish()?;
    if has_email {
        return Err(IdentityError::EmailCannotBeUpdated.into());
    }
    if name.is_none() && image.is_none() {
        return Err(IdentityError::NoFieldsToUpdate.into());
    }
    identity
        .update_profile(&auth, ProfileChange { name, image })
        .await?;
    // Better Auth re-issues the session cookie with a fresh Max-Age.
    let cookies = respond::session_cookies(&state, &auth.session.token, dont_remember);
    Ok(respond::with_cookies(
        respond::json(&json!({ "status": true })),
        &cookies,
    ))
}

pub async fn list_accounts(
    state: web::Data<AuthState>,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let auth = current.require()?;
    let rows = accounts::list_for_user(&state.db, &auth.user.id).await?;
    let list: Vec<_> = rows
        .iter()
        .map(|a| {
            let scopes: Vec<&str> = a
                .scope
                .as_deref()
                .map(|s| s.split(',').filter(|x| !x.is_empty()).collect())
                .unwrap_or_default();
            json!({
                "id": a.id,
                "providerId": a.provider_id,
                "createdAt": iso(&a.created_at),
                "updatedAt": iso(&a.updated_at),
                "accountId": a.account_id,
                "userId": a.user_id,
                "scopes": scopes,
            })
        })
        .collect();
    Ok(respond::json(&list))
}

pub async fn delete_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::optional_body(body.get())?;
    let callback_url = f.optional_string("callbackURL");
    let password = f.optional_string("password");
    let token = f.optional_string("token");
    f.finish()?;
    let auth = current.require()?;
    let outcome = identity
        .delete_user(
            &auth,
            DeleteRequest {
                password: password.as_deref(),
                token: token.as_deref(),
                callback_url: callback_url.as_deref(),
            },
        )
        .await?;
    Ok(match outcome {
        DeletionOutcome::Deleted => respond::with_cookies(
            respond::json(&json!({ "success": true, "message": "User deleted" })),
            &respond::cleared_session_cookies(&state),
        ),
        DeletionOutcome::VerificationSent => {
            respond::json(&json!({ "success": true, "message": "Verification email sent" }))
        }
    })
}

/// The mailed deletion link. It needs the user's session, so a leaked link alone deletes nothing.
pub async fn delete_user_callback(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = castellan_http::body::query_object(&req);
    let mut f = Fields::query(&query);
    let token = f.string("token");
    let callback_url = f.optional_string("callbackURL");
    f.finish()?;
    if let Some(cb) = &callback_url {
        castellan_http::origin::check_callback_url(&state.origins, cb)?;
    }
    let auth = current.session.ok_or(IdentityError::NoUserToDelete)?;
    identity.confirm_deletion(&auth, &validated(token)?).await?;
    let cleared = respond::cleared_session_cookies(&state);
    Ok(match query_param(&req, "callbackURL") {
        Some(cb) if !cb.is_empty() => respond::with_cookies(respond::redirect(&cb), &cleared),
        _ => respond::with_cookies(
            respond::json(&json!({ "success": true, "message": "User deleted" })),
            &cleared,
        ),
    })
}
