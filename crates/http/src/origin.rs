//! Better Auth's callback check, in HTTP terms: the matching itself is
//! [`castellan_domain::origins::TrustedOrigins`].

pub use castellan_domain::origins::TrustedOrigins;

use crate::error::ApiError;

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
