//! Better Auth's callback check, in HTTP terms: the matching itself is
//! [`castellan_domain::origins::TrustedOrigins`].

pub use castellan_domain::origins::TrustedOrigins;

use actix_web::http::header::{self, HeaderMap, HeaderValue};

use crate::error::ApiError;

/// The request's `Origin`, when it is one the deployment trusts: a bare `scheme://host[:port]`
/// (http or https, nothing after it; `null` and custom schemes never are).
#[must_use]
pub fn trusted_request_origin<'a>(
    headers: &'a HeaderMap,
    origins: &TrustedOrigins,
) -> Option<&'a HeaderValue> {
    let value = headers.get(header::ORIGIN)?;
    let origin = value.to_str().ok()?;
    let url = url::Url::parse(origin).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.origin().ascii_serialization() == origin.trim_end_matches('/');
    (bare && origins.trusts_url(origin)).then_some(value)
}

/// Checks a callback-type parameter.
///
/// # Errors
/// 400 when the value holds a control character (the URL parser would strip CR/LF and
/// trust what remains, but the raw value is what reaches a `Location` header); 403 with
/// `code` when it is neither a safe path nor a trusted URL.
pub fn check_callback(
    origins: &TrustedOrigins,
    value: &str,
    code: &'static str,
    message: &'static str,
) -> Result<(), ApiError> {
    if castellan_domain::has_control(value) {
        return Err(ApiError::validation(format!(
            "{message}: control characters are not allowed"
        )));
    }
    if origins.trusts_callback(value) {
        Ok(())
    } else {
        Err(ApiError::forbidden(code, message))
    }
}

/// [`check_callback`] for a `callbackURL` query parameter, in Better Auth's words.
///
/// # Errors
/// As [`check_callback`], with `INVALID_CALLBACK_URL`.
pub fn check_callback_url(origins: &TrustedOrigins, value: &str) -> Result<(), ApiError> {
    check_callback(origins, value, "INVALID_CALLBACK_URL", "Invalid callbackURL")
}
