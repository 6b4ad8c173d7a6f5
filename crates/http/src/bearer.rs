//! Better Auth's bearer plugin, response side: whenever a response sets a live session cookie,
//! the signed token is also sent in `set-auth-token` (exposed to browsers through CORS), so
//! clients without cookies can use `Authorization: Bearer`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::cookies::{SESSION_TOKEN, issued_session_token};
use crate::state::AuthState;

const SET_AUTH_TOKEN: HeaderName = HeaderName::from_static("set-auth-token");

/// Appends `name` to `Access-Control-Expose-Headers`.
pub fn expose_header(headers: &mut actix_web::http::header::HeaderMap, name: &str) {
    let current = headers
        .get(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let joined = if current.is_empty() {
        name.to_owned()
    } else {
        format!("{current}, {name}")
    };
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
    }
}

/// The middleware.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn set_auth_token<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let cookie_name = req
        .app_data::<web::Data<AuthState>>()
        .map(|s| s.cookies.name(SESSION_TOKEN));
    let mut res = next.call(req).await?;
    let Some(cookie_name) = cookie_name else {
        return Ok(res);
    };
    if let Some(token) = issued_session_token(res.headers(), &cookie_name)
        && let Ok(value) = HeaderValue::from_str(&token)
    {
        let headers = res.headers_mut();
        headers.insert(SET_AUTH_TOKEN, value);
        expose_header(headers, "set-auth-token");
    }
    Ok(res)
}
