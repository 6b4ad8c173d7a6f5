//! The hostile-input guard: one check in front of every route, so no handler ever sees a NUL,
//! a control character or a repeated scalar parameter in its path or query string. Postgres
//! refuses `0x00` in text (a 500 if it got that far), and control characters end up in
//! `Location` headers and logs. JSON bodies are checked by the body extractor
//! ([`crate::body::Body`]) with [`reject_nul`], since only it reads them.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use serde_json::Value;

use crate::error::ApiError;

pub use castellan_domain::has_control;

/// Refuses a request whose decoded path or query holds a control character, or whose query
/// repeats a parameter (every Better Auth query parameter is a scalar; zod sees a repeated one
/// as an array, which is how it is reported).
///
/// # Errors
/// 400 `VALIDATION_ERROR`, in Better Auth's words where it has them.
pub fn check_request_line(path: &str, query: &str) -> Result<(), ApiError> {
    let decoded = percent_encoding::percent_decode_str(path).collect::<Vec<u8>>();
    match std::str::from_utf8(&decoded) {
        Ok(p) if !has_control(p) => {}
        _ => {
            return Err(ApiError::validation(
                "[path] Invalid input: must be UTF-8 without control characters",
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if has_control(&key) || has_control(&value) {
            return Err(ApiError::validation(format!(
                "[query.{}] Invalid input: control characters are not allowed",
                printable(&key)
            )));
        }
        if !seen.insert(key.clone()) {
            return Err(ApiError::validation(format!(
                "[query.{key}] Invalid input: expected string, received array"
            )));
        }
    }
    Ok(())
}

/// A key safe to echo in an error message.
fn printable(key: &str) -> String {
    key.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// The middleware form of [`check_request_line`], registered on the whole app.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn hostile_input<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let uri = req.uri();
    let verdict = check_request_line(uri.path(), uri.query().unwrap_or(""));
    match verdict {
        Ok(()) => next.call(req).await.map(ServiceResponse::map_into_left_body),
        Err(e) => {
            let res = actix_web::ResponseError::error_response(&e);
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

/// Refuses a NUL anywhere in a JSON document, keys included, naming where it is.
///
/// # Errors
/// 400 `VALIDATION_ERROR` `[body.a.b] Invalid input: NUL characters are not allowed`.
pub fn reject_nul(value: &Value) -> Result<(), ApiError> {
    fn walk(value: &Value, at: &mut Vec<String>) -> Result<(), ApiError> {
        let refuse = |at: &[String]| {
            let mut path = String::from("body");
            for p in at {
                path.push('.');
                path.push_str(p);
            }
            Err(ApiError::validation(format!(
                "[{path}] Invalid input: NUL characters are not allowed"
            )))
        };
        match value {
            Value::String(s) if s.contains('\0') => refuse(at),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    at.push(i.to_string());
                    walk(item, at)?;
                    at.pop();
                }
                Ok(())
            }
            Value::Object(map) => {
                for (k, v) in map {
                    at.push(printable(k));
                    if k.contains('\0') {
                        return refuse(at);
                    }
                    walk(v, at)?;
                    at.pop();
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(value, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clean_request_lines_pass() {
        assert!(check_request_line("/api/auth/reset-password/abc", "callbackURL=%2Freset&x=1").is_ok());
        assert!(check_request_line("/api/auth/get-session", "").is_ok());
    }

    #[test]
    fn control_characters_are_refused_anywhere_in_the_request_line() {
        for (path, query) in [
            ("/api/auth/reset-password/a%00b", ""),
            ("/api/auth/reset-password/a%0d%0ab", ""),
            ("/api/auth/reset-password/%ff", ""),
            ("/api/auth/verify-email", "token=a%00"),
            ("/api/auth/verify-email", "callbackURL=%2F%0D%0ASet-Cookie:x=1"),
            ("/api/auth/verify-email", "to%00ken=a"),
        ] {
            let err = check_request_line(path, query).unwrap_err();
            assert_eq!(
                (err.status.as_u16(), err.code()),
                (400, Some("VALIDATION_ERROR")),
                "{path}?{query}"
            );
        }
    }

    #[test]
    fn a_repeated_parameter_reads_as_zods_array() {
        let err = check_request_line("/x", "organizationId=A&organizationId=B").unwrap_err();
        assert_eq!(
            err.to_string(),
            "400 VALIDATION_ERROR: [query.organizationId] Invalid input: expected string, received array"
        );
    }

    #[test]
    fn nul_is_found_at_any_depth_and_named() {
        assert!(reject_nul(&json!({"name": "ok\nfine", "data": [1, {"a": "b"}]})).is_ok());
        let err = reject_nul(&json!({"data": {"list": ["x", "y\u{0}"]}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "400 VALIDATION_ERROR: [body.data.list.1] Invalid input: NUL characters are not allowed"
        );
        assert!(reject_nul(&json!({"k\u{0}": 1})).is_err());
    }
}
