//! The request-body extractor. It reproduces Better Auth's pipeline up to schema validation:
//! size limit, media type (415), JSON parsing (400 `BAD_REQUEST`), then the origin/CSRF checks
//! (403), so that these errors win over validation and session errors exactly as they do there.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt as _;
use serde_json::{Map, Value};

use crate::cookies::has_cookies;
use crate::error::ApiError;
use crate::state::AuthState;

/// Which media types an endpoint accepts and whether it gets the sign-in CSRF rules.
pub trait BodyPolicy {
    const ACCEPTS_FORM: bool;
    const FORM_CSRF: bool;
}

/// JSON only (Better Auth's router default).
pub struct JsonOnly;
impl BodyPolicy for JsonOnly {
    const ACCEPTS_FORM: bool = false;
    const FORM_CSRF: bool = false;
}

/// `sign-in/email` and `sign-up/email`: JSON or a form post, with Better Auth's `formCsrf` rules.
pub struct CredentialForm;
impl BodyPolicy for CredentialForm {
    const ACCEPTS_FORM: bool = true;
    const FORM_CSRF: bool = true;
}

/// A parsed body (`None` when the request had none) that passed the origin checks.
pub struct Body<P: BodyPolicy = JsonOnly> {
    pub value: Option<Value>,
    policy: PhantomData<P>,
}

impl<P: BodyPolicy> Body<P> {
    #[must_use]
    pub fn get(&self) -> Option<&Value> {
        self.value.as_ref()
    }
}

impl<P: BodyPolicy + 'static> FromRequest for Body<P> {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AuthState>>()
                .ok_or_else(|| ApiError::internal(&"AuthState is not registered"))?
                .clone();
            let bytes = read_limited(&mut payload, state.settings.max_body_bytes).await?;
            let value = if bytes.is_empty() {
                None
            } else {
                let value = parse::<P>(&req, &bytes)?;
                crate::guard::reject_nul(&value)?;
                Some(value)
            };
            check_origin::<P>(&req, &state)?;
            check_callback_params(&req, &state, value.as_ref())?;
            Ok(Self {
                value,
                policy: PhantomData,
            })
        })
    }
}

/// Reads a whole request body of at most `limit` bytes.
///
/// # Errors
/// 413 `PAYLOAD_TOO_LARGE` past the limit; 400 when the body breaks off.
pub async fn read_limited<S>(payload: &mut S, limit: usize) -> Result<web::BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("BAD_REQUEST", "Invalid request body"))?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "Request body is too large",
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn parse<P: BodyPolicy>(req: &HttpRequest, bytes: &[u8]) -> Result<Value, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // An unparsable Content-Type counts as none: refused below like any unsupported type.
    let media = actix_web::HttpMessage::mime_type(req)
        .ok()
        .flatten()
        .map(|m| m.essence_str().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/json" => serde_json::from_slice(bytes)
            .map_err(|_| ApiError::bad_request("BAD_REQUEST", "Invalid JSON in request body")),
        "application/x-www-form-urlencoded" if P::ACCEPTS_FORM => {
            let map: Map<String, Value> = url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            Ok(Value::Object(map))
        }
        _ => {
            let allowed = if P::ACCEPTS_FORM {
                "application/x-www-form-urlencoded, application/json"
            } else {
                "application/json"
            };
            let shown = if content_type.is_empty() {
                "undefined"
            } else {
                content_type
            };
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("Content-Type \"{shown}\" is not allowed. Allowed types: {allowed}"),
            ))
        }
    }
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `Origin` (or `Referer`) must be a trusted origin: for any cookie-carrying state-changing
/// request, and for credential forms under the `formCsrf` rules.
fn check_origin<P: BodyPolicy>(req: &HttpRequest, state: &AuthState) -> Result<(), ApiError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let origin = header_str(req, "origin").or_else(|| header_str(req, "referer"));
    let must_check = if has_cookies(req) {
        true
    } else if P::FORM_CSRF {
        let site = header_str(req, "sec-fetch-site");
        let mode = header_str(req, "sec-fetch-mode");
        if site == Some("cross-site") && mode == Some("navigate") {
            return Err(ApiError::forbidden(
                "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED",
                "Cross-site navigation login blocked. This request appears to be a CSRF attack.",
            ));
        }
        site.is_some() || mode.is_some() || header_str(req, "sec-fetch-dest").is_some() || origin.is_some()
    } else {
        false
    };
    if !must_check {
        return Ok(());
    }
    match origin {
        None | Some("null") => Err(ApiError::forbidden(
            "MISSING_OR_NULL_ORIGIN",
            "Missing or null Origin",
        )),
        Some(o) if state.origins.trusts_url(o) => Ok(()),
        Some(_) => Err(ApiError::forbidden("INVALID_ORIGIN", "Invalid origin")),
    }
}

/// Callback-type URLs (in the body, else in the query) must be safe relative paths or trusted
/// origins, even without cookies. The body extractor runs it; GET handlers call it with `None`.
///
/// # Errors
/// 403 with Better Auth's code for the parameter; 400 for a non-string or a control character.
pub fn check_callback_params(
    req: &HttpRequest,
    state: &AuthState,
    body: Option<&Value>,
) -> Result<(), ApiError> {
    const PARAMS: [(&str, &str, &str, &str); 4] = [
        (
            "callbackURL",
            "callbackURL",
            "INVALID_CALLBACK_URL",
            "Invalid callbackURL",
        ),
        (
            "redirectTo",
            "redirectURL",
            "INVALID_REDIRECT_URL",
            "Invalid redirectURL",
        ),
        (
            "errorCallbackURL",
            "errorCallbackURL",
            "INVALID_ERROR_CALLBACK_URL",
            "Invalid errorCallbackURL",
        ),
        (
            "newUserCallbackURL",
            "newUserCallbackURL",
            "INVALID_NEW_USER_CALLBACK_URL",
            "Invalid newUserCallbackURL",
        ),
    ];
    for (key, label, code, message) in PARAMS {
        let value = match body.and_then(|b| b.get(key)) {
            Some(v) => Some(v.clone()),
            None => query_param(req, key).map(Value::String),
        };
        match value {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                if !s.is_empty() {
                    crate::origin::check_callback(&state.origins, &s, code, message)?;
                }
            }
            Some(_) => {
                return Err(ApiError::message_only(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid {label}: expected a string"),
                ));
            }
        }
    }
    Ok(())
}

/// One query parameter, percent-decoded.
#[must_use]
pub fn query_param(req: &HttpRequest, key: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Every query parameter as a JSON object of strings (repeated keys: the first wins).
#[must_use]
pub fn query_object(req: &HttpRequest) -> Map<String, Value> {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        map.entry(k.into_owned()).or_insert(Value::String(v.into_owned()));
    }
    map
}
