//! CORS for single-page apps on another origin: only the trusted origins (the base URL's and
//! `TRUSTED_ORIGINS`, exact or with the documented wildcards) get an answer, always with
//! credentials and the origin echoed, never `*`. Preflights are answered here, before routing.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::state::AuthState;

/// Request headers a browser app may send: what the official client and API-key callers use.
const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "authorization",
    "x-api-key",
    "x-requested-with",
    "x-captcha-response",
    "x-captcha-user-remote-ip",
    "cache-control",
    "pragma",
];
/// Response headers the app may read: the bearer plugin's and the JWT plugin's.
const EXPOSED_HEADERS: &str = "set-auth-token, set-auth-jwt";
const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
const PREFLIGHT_MAX_AGE: &str = "600";

/// The `Origin` of a cross-origin request, when it is one the deployment trusts.
fn trusted_origin(req: &ServiceRequest, state: &AuthState) -> Option<HeaderValue> {
    crate::origin::trusted_request_origin(req.headers(), &state.origins).cloned()
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// `Vary: Origin`, added to whatever the response already varies on.
fn vary_on_origin(headers: &mut HeaderMap) {
    let current = headers
        .get(header::VARY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let vary = match current {
        Some(v) if v.to_ascii_lowercase().contains("origin") => v,
        Some(v) => format!("{v}, Origin"),
        None => "Origin".to_owned(),
    };
    set(headers, header::VARY, &vary);
}

/// The requested headers, if every one of them is allowed.
fn allowed_request_headers(req: &ServiceRequest) -> Option<String> {
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let names: Vec<String> = requested
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    names
        .iter()
        .all(|h| ALLOWED_HEADERS.contains(&h.as_str()))
        .then(|| ALLOWED_HEADERS.join(", "))
}

fn preflight(req: &ServiceRequest, origin: Option<HeaderValue>) -> HttpResponse {
    let mut res = HttpResponse::build(StatusCode::NO_CONTENT).finish();
    let headers = res.headers_mut();
    vary_on_origin(headers);
    let method_ok = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| matches!(m, "GET" | "POST"));
    // An untrusted origin, method or header gets a preflight without permission: the browser
    // then refuses the request itself.
    if let (Some(origin), true, Some(allowed)) = (origin, method_ok, allowed_request_headers(req)) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        set(headers, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        set(headers, header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS);
        set(headers, header::ACCESS_CONTROL_ALLOW_HEADERS, &allowed);
        set(headers, header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE);
    }
    res
}

/// The middleware, registered on the whole app.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn cors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AuthState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let origin = trusted_origin(&req, &state);
    let is_preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let res = preflight(&req, origin);
        return Ok(req.into_response(res).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    vary_on_origin(headers);
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        set(headers, header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
        set(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED_HEADERS);
    }
    Ok(res.map_into_left_body())
}
