//! Better Auth's JSON shapes for users and sessions, and responses that carry session cookies.
//! Dates are ISO-8601 with milliseconds and `Z`, as `JSON.stringify` writes them.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;

use castellan_data::entity::{audit_log, session, user};

use crate::cookies::{self, DONT_REMEMBER, SESSION_DATA, SESSION_TOKEN};
use crate::state::AuthState;

pub use castellan_data::clock::iso;

#[allow(clippy::ref_option, reason = "serde's serialize_with passes a reference")]
fn iso_opt<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&iso(t)),
        None => s.serialize_none(),
    }
}

fn iso_req<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&iso(t))
}

/// A user as Better Auth returns it (field order included).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView<'a> {
    name: &'a str,
    email: &'a str,
    email_verified: bool,
    image: Option<&'a str>,
    #[serde(serialize_with = "iso_req")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "iso_req")]
    updated_at: DateTime<Utc>,
    role: Option<&'a str>,
    banned: Option<bool>,
    ban_reason: Option<&'a str>,
    #[serde(serialize_with = "iso_opt")]
    ban_expires: Option<DateTime<Utc>>,
    two_factor_enabled: Option<bool>,
    id: &'a str,
}

impl<'a> From<&'a user::Model> for UserView<'a> {
    fn from(u: &'a user::Model) -> Self {
        Self {
            name: &u.name,
            email: &u.email,
            email_verified: u.email_verified,
            image: u.image.as_deref(),
            created_at: u.created_at,
            updated_at: u.updated_at,
            role: u.role.as_deref(),
            banned: u.banned,
            ban_reason: u.ban_reason.as_deref(),
            ban_expires: u.ban_expires,
            two_factor_enabled: u.two_factor_enabled,
            id: &u.id,
        }
    }
}

/// A session row as Better Auth returns it; the token is included, as there.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView<'a> {
    #[serde(serialize_with = "iso_req")]
    expires_at: DateTime<Utc>,
    token: &'a str,
    #[serde(serialize_with = "iso_req")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "iso_req")]
    updated_at: DateTime<Utc>,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
    user_id: &'a str,
    active_organization_id: Option<&'a str>,
    active_team_id: Option<&'a str>,
    impersonated_by: Option<&'a str>,
    id: &'a str,
    // Castellan's additions: how the session was authenticated.
    auth_method: Option<&'a str>,
    auth_connection_id: Option<&'a str>,
    #[serde(serialize_with = "iso_opt")]
    authenticated_at: Option<DateTime<Utc>>,
}

impl<'a> From<&'a session::Model> for SessionView<'a> {
    fn from(s: &'a session::Model) -> Self {
        Self {
            expires_at: s.expires_at,
            token: &s.token,
            created_at: s.created_at,
            updated_at: s.updated_at,
            ip_address: s.ip_address.as_deref(),
            user_agent: s.user_agent.as_deref(),
            user_id: &s.user_id,
            active_organization_id: s.active_organization_id.as_deref(),
            active_team_id: s.active_team_id.as_deref(),
            impersonated_by: s.impersonated_by.as_deref(),
            id: &s.id,
            auth_method: s.auth_method.as_deref(),
            auth_connection_id: s.auth_connection_id.as_deref(),
            authenticated_at: s.authenticated_at,
        }
    }
}

/// `200` with a JSON body.
#[must_use]
pub fn json<T: Serialize>(body: &T) -> HttpResponse {
    json_with_status(StatusCode::OK, body)
}

#[must_use]
pub fn json_with_status<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type("application/json")
            .body(bytes),
        Err(e) => actix_web::ResponseError::error_response(&crate::ApiError::internal(&e)),
    }
}

/// `Set-Cookie` lines that establish a session: the signed token (no `Max-Age` for "don't
/// remember me" sessions, which also get the signed `dont_remember` marker).
#[must_use]
pub fn session_cookies(state: &AuthState, token: &str, dont_remember: bool) -> Vec<String> {
    let max_age = (!dont_remember).then(|| state.settings.session.expires_in.as_secs());
    let mut out = vec![state.cookies.signed(SESSION_TOKEN, token, max_age)];
    if dont_remember {
        out.push(state.cookies.signed(DONT_REMEMBER, "true", None));
    }
    out
}

/// `Set-Cookie` lines that end the session in the browser.
#[must_use]
pub fn cleared_session_cookies(state: &AuthState) -> Vec<String> {
    [SESSION_TOKEN, SESSION_DATA, DONT_REMEMBER]
        .iter()
        .map(|c| state.cookies.expired(c))
        .collect()
}

/// Adds cookies to a response.
#[must_use]
pub fn with_cookies(mut res: HttpResponse, set_cookies: &[String]) -> HttpResponse {
    cookies::append(&mut res, set_cookies);
    res
}

/// `302` to `location`, the one way every service redirects. The target was checked against
/// the trusted origins by the caller; a value that still cannot be a header (a control
/// character) is refused here with a JSON 400, so a bad target never becomes a 500.
#[must_use]
pub fn redirect(location: &str) -> HttpResponse {
    match actix_web::http::header::HeaderValue::from_str(location) {
        Ok(value) if !crate::guard::has_control(location) => HttpResponse::Found()
            .insert_header((actix_web::http::header::LOCATION, value))
            .finish(),
        _ => actix_web::ResponseError::error_response(&crate::ApiError::validation(
            "Invalid redirect target: control characters are not allowed",
        )),
    }
}

/// One audit-log entry (an organization's, or the platform's), as both logs' endpoints show it.
#[must_use]
pub fn audit_entry(e: &audit_log::Model) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "organizationId": e.organization_id,
        "seq": e.seq,
        "action": e.action,
        "actorId": e.actor_id,
        "targetType": e.target_type,
        "targetId": e.target_id,
        "details": e.details.as_deref().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()),
        "ipAddress": e.ip_address,
        "userAgent": e.user_agent,
        "createdAt": iso(&e.created_at),
        "prevHash": e.prev_hash,
        "hash": e.hash,
    })
}

/// A page of an audit log: `{entries, total, limit, offset}`.
#[must_use]
pub fn audit_page(entries: &[audit_log::Model], total: u64, limit: u64, offset: u64) -> HttpResponse {
    let entries: Vec<serde_json::Value> = entries.iter().map(audit_entry).collect();
    json(&serde_json::json!({ "entries": entries, "total": total, "limit": limit, "offset": offset }))
}
