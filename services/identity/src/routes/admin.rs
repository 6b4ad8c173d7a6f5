//! The admin endpoints (`/admin/*`, Better Auth's admin plugin).

use actix_web::{HttpRequest, HttpResponse, web};
use castellan_data::repo::users::{AdminChange, Filter, TextMatch, UserField, UserQuery};
use castellan_http::body::query_object;
use castellan_http::cookies::DONT_REMEMBER;
use castellan_http::respond::{self, SessionView, UserView};
use castellan_http::{ApiError, AuthState, Body, Fields, MaybeSession, Service};
use castellan_session::AuthSession;
use serde_json::{Value, json};

use super::validated;
use crate::domain::IdentityService;
use crate::domain::admin::{NewUser, Operator};
use crate::error::IdentityError;

const ADMIN_SESSION: &str = "admin_session";

/// The admin plugin answers a missing session with an empty 401.
fn signed_in(current: MaybeSession) -> Result<AuthSession, ApiError> {
    current
        .session
        .ok_or_else(|| IdentityError::AdminUnauthenticated.into())
}

/// The signed-in operator and where the request came from (for the audit log).
fn operator(req: &HttpRequest, state: &AuthState, current: MaybeSession) -> Result<Operator, ApiError> {
    Ok(Operator {
        auth: signed_in(current)?,
        client: state.client(req),
    })
}

fn user_id(body: &Body) -> Result<String, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("userId");
    f.finish()?;
    validated(id)
}

fn wrapped_user(u: &castellan_data::entity::user::Model) -> HttpResponse {
    respond::json(&json!({ "user": UserView::from(u) }))
}

fn text_match(op: Option<&str>) -> Result<TextMatch, ApiError> {
    match op.unwrap_or("contains") {
        "contains" => Ok(TextMatch::Contains),
        "starts_with" => Ok(TextMatch::StartsWith),
        "ends_with" => Ok(TextMatch::EndsWith),
        other => Err(ApiError::validation(format!(
            "[query.searchOperator] Invalid option: {other:?}"
        ))),
    }
}

/// A filter value in the column's own type: booleans and dates are not strings on Postgres.
fn typed(field: UserField, raw: &str) -> Result<sea_orm::Value, ApiError> {
    match field {
        UserField::EmailVerified | UserField::Banned => match raw {
            "true" => Ok(true.into()),
            "false" => Ok(false.into()),
            _ => Err(ApiError::validation(
                "[query.filterValue] Invalid input: expected boolean",
            )),
        },
        UserField::CreatedAt | UserField::UpdatedAt => chrono::DateTime::parse_from_rfc3339(raw)
            .map(|d| d.with_timezone(&chrono::Utc).into())
            .map_err(|_| ApiError::validation("[query.filterValue] Invalid input: expected a date")),
        _ => Ok(raw.to_owned().into()),
    }
}

fn user_query(req: &HttpRequest) -> Result<(UserQuery, Option<u64>, Option<u64>), ApiError> {
    let query = query_object(req);
    let mut f = Fields::query(&query);
    let search_value = f.optional_string("searchValue");
    let search_field = f.optional_string("searchField");
    let search_operator = f.optional_string("searchOperator");
    let limit = f.optional_count("limit");
    let offset = f.optional_count("offset");
    let sort_by = f.optional_string("sortBy");
    let sort_direction = f.optional_string("sortDirection");
    let filter_field = f.optional_string("filterField");
    let filter_value = f.optional_string("filterValue");
    let filter_operator = f.optional_string("filterOperator");
    f.finish()?;
    let field = |name: Option<&str>, key: &str| {
        let name = name.unwrap_or("email");
        UserField::parse(name)
            .ok_or_else(|| ApiError::validation(format!("[query.{key}] Unknown field {name:?}")))
    };
    let mut q = UserQuery {
        limit,
        offset,
        ..UserQuery::default()
    };
    if let Some(value) = search_value {
        let f = field(search_field.as_deref(), "searchField")?;
        if !matches!(f, UserField::Email | UserField::Name) {
            return Err(ApiError::validation(
                "[query.searchField] Invalid option: expected \"email\" or \"name\"",
            ));
        }
        q.search = Some((f, text_match(search_operator.as_deref())?, value));
    }
    if let Some(value) = filter_value {
        let f = field(filter_field.as_deref(), "filterField")?;
        let list = || {
            value
                .split(',')
                .map(|v| typed(f, v.trim()))
                .collect::<Result<Vec<_>, _>>()
        };
        let filter = match filter_operator.as_deref().unwrap_or("eq") {
            "eq" => Filter::Eq(typed(f, &value)?),
            "ne" => Filter::Ne(typed(f, &value)?),
            "lt" => Filter::Lt(typed(f, &value)?),
            "lte" => Filter::Lte(typed(f, &value)?),
            "gt" => Filter::Gt(typed(f, &value)?),
            "gte" => Filter::Gte(typed(f, &value)?),
            "in" => Filter::In(list()?),
            "not_in" => Filter::NotIn(list()?),
            op @ ("contains" | "starts_with" | "ends_with") => {
                Filter::Text(text_match(Some(op))?, value.clone())
            }
            other => {
                return Err(ApiError::validation(format!(
                    "[query.filterOperator] Invalid option: {other:?}"
                )));
            }
        };
        q.filter = Some((f, filter));
    }
    if let Some(sort) = sort_by {
        let f = field(Some(&sort), "sortBy")?;
        let desc = match sort_direction.as_deref().unwrap_or("asc") {
            "asc" => false,
            "desc" => true,
            other => {
                return Err(ApiError::validation(format!(
                    "[query.sortDirection] Invalid option: {other:?}"
                )));
            }
        };
        q.sort = Some((f, desc));
    }
    Ok((q, limit, offset))
}

pub async fn list_users(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let (query, limit, offset) = user_query(&req)?;
    let op = operator(&req, &state, current)?;
    let (users, total) = identity.admin_list_users(&op, &query).await?;
    let mut body = json!({ "users": users.iter().map(UserView::from).collect::<Vec<_>>(), "total": total });
    if let Some(obj) = body.as_object_mut() {
        if let Some(l) = limit {
            obj.insert("limit".into(), l.into());
        }
        if let Some(o) = offset {
            obj.insert("offset".into(), o.into());
        }
    }
    Ok(respond::json(&body))
}

pub async fn get_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let id = f.string("id");
    f.finish()?;
    let op = operator(&req, &state, current)?;
    let u = identity.admin_get_user(&op, &validated(id)?).await?;
    Ok(respond::json(&UserView::from(&u)))
}

pub async fn create_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let email = f.email("email");
    let password = f.optional_string("password");
    let name = f.string("name");
    let role = f.optional_string_or_list("role");
    f.finish()?;
    let op = operator(&req, &state, current)?;
    let new = NewUser {
        email: validated(email)?,
        password,
        name: validated(name)?,
        role,
    };
    let u = identity.admin_create_user(&op, new).await?;
    Ok(wrapped_user(&u))
}

pub async fn update_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("userId");
    let data = f.optional_object("data").unwrap_or_default();
    f.finish()?;
    if data.contains_key("password") {
        return Err(IdentityError::PasswordViaUpdateUser.into());
    }
    let data = Value::Object(data);
    let mut d = Fields::body(Some(&data))?;
    let change = AdminChange {
        name: d.optional_string("name"),
        image: d.nullable_string("image"),
        email: d.optional_string("email"),
        email_verified: d.optional_bool("emailVerified"),
        role: d.optional_string_or_list("role").map(|r| r.join(",")),
        ban: d
            .optional_bool("banned")
            .map(|b| (b, d.optional_string("banReason"), None)),
    };
    d.finish()?;
    if change.name.is_none()
        && change.image.is_none()
        && change.email.is_none()
        && change.email_verified.is_none()
        && change.role.is_none()
        && change.ban.is_none()
    {
        return Err(IdentityError::NoDataToUpdate.into());
    }
    let op = operator(&req, &state, current)?;
    let u = identity.admin_update_user(&op, &validated(id)?, change).await?;
    Ok(respond::json(&UserView::from(&u)))
}

pub async fn set_role(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("userId");
    let role = f.string_or_list("role");
    f.finish()?;
    let op = operator(&req, &state, current)?;
    let u = identity
        .admin_set_role(&op, &validated(id)?, &validated(role)?)
        .await?;
    Ok(wrapped_user(&u))
}

pub async fn set_user_password(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("userId");
    let password = f.non_empty_string("newPassword");
    f.finish()?;
    let op = operator(&req, &state, current)?;
    identity
        .admin_set_password(&op, &validated(id)?, &validated(password)?)
        .await?;
    Ok(respond::json(&json!({ "status": true })))
}

pub async fn ban_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("userId");
    let reason = f.optional_string("banReason");
    let expires_in = f.raw("banExpiresIn").and_then(Value::as_i64).filter(|s| *s > 0);
    f.finish()?;
    let op = operator(&req, &state, current)?;
    let u = identity
        .admin_ban(&op, &validated(id)?, reason, expires_in)
        .await?;
    Ok(wrapped_user(&u))
}

pub async fn unban_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&body)?;
    let op = operator(&req, &state, current)?;
    let u = identity.admin_unban(&op, &id).await?;
    Ok(wrapped_user(&u))
}

pub async fn list_user_sessions(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&body)?;
    let op = operator(&req, &state, current)?;
    let sessions = identity.admin_list_sessions(&op, &id).await?;
    Ok(respond::json(
        &json!({ "sessions": sessions.iter().map(SessionView::from).collect::<Vec<_>>() }),
    ))
}

pub async fn revoke_user_session(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let token = f.string("sessionToken");
    f.finish()?;
    let op = operator(&req, &state, current)?;
    identity.admin_revoke_session(&op, &validated(token)?).await?;
    Ok(respond::json(&json!({ "success": true })))
}

pub async fn revoke_user_sessions(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&body)?;
    let op = operator(&req, &state, current)?;
    identity.admin_revoke_sessions(&op, &id).await?;
    Ok(respond::json(&json!({ "success": true })))
}

pub async fn remove_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&body)?;
    let op = operator(&req, &state, current)?;
    identity.admin_remove_user(&op, &id).await?;
    Ok(respond::json(&json!({ "success": true })))
}

/// Starts impersonating: the admin's own session is parked in the signed `admin_session`
/// cookie, and the browser holds the impersonation session as a "don't remember" session.
pub async fn impersonate_user(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let id = f.string("userId");
    let reason = f.optional_string("reason");
    f.finish()?;
    let dont_remember = current.dont_remember;
    let op = operator(&req, &state, current)?;
    let imp = identity.impersonate(&op, &validated(id)?, reason).await?;
    let parked = format!(
        "{}:{}",
        op.auth.session.token,
        if dont_remember { "true" } else { "" }
    );
    let max_age = Some(state.settings.session.expires_in.as_secs());
    let mut cookies = vec![state.cookies.signed(ADMIN_SESSION, &parked, max_age)];
    cookies.extend(respond::session_cookies(&state, &imp.session.token, true));
    let body = json!({ "session": SessionView::from(&imp.session), "user": UserView::from(&imp.user) });
    Ok(respond::with_cookies(respond::json(&body), &cookies))
}

pub async fn stop_impersonating(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    _body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let op = operator(&req, &state, current)?;
    let parked = state.cookies.read_signed(&req, ADMIN_SESSION);
    let (admin_token, dont_remember) = match parked.as_deref().and_then(|p| p.split_once(':')) {
        Some((t, dr)) => (Some(t.to_owned()), !dr.is_empty()),
        None => (None, false),
    };
    let admin = identity.stop_impersonating(&op, admin_token.as_deref()).await?;
    let mut cookies = respond::session_cookies(&state, &admin.session.token, dont_remember);
    cookies.push(state.cookies.expired(ADMIN_SESSION));
    if !dont_remember {
        cookies.push(state.cookies.expired(DONT_REMEMBER));
    }
    let body = json!({ "session": SessionView::from(&admin.session), "user": UserView::from(&admin.user) });
    Ok(respond::with_cookies(respond::json(&body), &cookies))
}

pub async fn has_permission(
    Service(identity): Service<IdentityService>,
    body: Body,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let mut f = Fields::body(body.get())?;
    let permissions = f.optional_statements("permissions");
    let legacy = f.optional_statements("permission");
    f.finish()?;
    let auth = signed_in(current)?;
    let Some(wanted) = permissions.or(legacy) else {
        return Err(ApiError::validation(
            "[body] Invalid input: permissions is required",
        ));
    };
    let success = identity.admin_has_permission(&auth, &wanted).await?;
    Ok(respond::json(&json!({ "error": null, "success": success })))
}

/// `GET /admin/audit-log?limit=&offset=` (Castellan's own): the platform audit log, newest first.
pub async fn audit_log(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let query = query_object(&req);
    let mut f = Fields::query(&query);
    let limit = f.optional_count("limit").unwrap_or(50).min(200);
    let offset = f.optional_count("offset").unwrap_or(0);
    f.finish()?;
    let op = operator(&req, &state, current)?;
    let (entries, total) = identity.admin_audit_log(&op, limit, offset).await?;
    Ok(respond::audit_page(&entries, total, limit, offset))
}

/// `GET /admin/audit-log/verify` (Castellan's own): recomputes the platform log's hash chain.
pub async fn verify_audit_log(
    Service(identity): Service<IdentityService>,
    state: web::Data<AuthState>,
    req: HttpRequest,
    current: MaybeSession,
) -> Result<HttpResponse, ApiError> {
    let op = operator(&req, &state, current)?;
    Ok(respond::json(&identity.admin_verify_audit_log(&op).await?))
}
