//! Better Auth's rate limiter: a fixed window per client address and path, with its default
//! rules, applied before routing. Counters are shared through the cache (Redis when configured).
//! If the counter store cannot be reached, the brute-force rules (sign-in, sign-up, passwords,
//! email, mails, two-factor) fail closed: the request is refused with 503. Everything else is
//! counted by this process alone until the store is back, so sessions keep validating and the
//! service stays up, still limited.

use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::client::{client_ip, rate_limit_identity};
use crate::error::ApiError;
use crate::state::AuthState;

/// The liveness endpoint, relative to the base path: exempt from rate limiting.
pub const HEALTH_PATH: &str = "/ok";
/// The readiness endpoint, relative to the base path: exempt from rate limiting too.
pub const READY_PATH: &str = "/ready";

/// A window and the number of requests it admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub window: Duration,
    pub max: u32,
}

/// Better Auth's built-in rules, by path relative to the base path.
#[must_use]
pub fn rule_for(path: &str) -> Rule {
    const STRICT: [&str; 4] = ["/sign-in", "/sign-up", "/change-password", "/change-email"];
    const MAIL: [&str; 3] = [
        "/request-password-reset",
        "/send-verification-email",
        "/forget-password",
    ];
    const EMAIL_OTP: [&str; 3] = ["/email-otp/", "/sign-in/email-otp", "/forget-password/email-otp"];
    // The magic-link plugin's own rule comes first, as Better Auth's plugin rules do.
    if path.starts_with("/sign-in/magic-link") || path.starts_with("/magic-link/verify") {
        return Rule {
            window: Duration::from_secs(60),
            max: 5,
        };
    }
    // So does the email-OTP plugin's: three a minute on each of its endpoints.
    if EMAIL_OTP.iter().any(|p| path.starts_with(p)) {
        return Rule {
            window: Duration::from_secs(60),
            max: 3,
        };
    }
    if STRICT.iter().any(|p| path.starts_with(p)) {
        Rule {
            window: Duration::from_secs(10),
            max: 3,
        }
    } else if MAIL.iter().any(|p| path.starts_with(p)) {
        Rule {
            window: Duration::from_secs(60),
            max: 3,
        }
    } else if path.starts_with("/two-factor/") {
        Rule {
            window: Duration::from_secs(10),
            max: 3,
        }
    } else {
        Rule {
            window: Duration::from_secs(10),
            max: 100,
        }
    }
}

/// The middleware; registered on the whole app so unknown paths count too, as in Better Auth.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn rate_limit<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AuthState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let base = state.settings.base_path.as_str();
    // Health checks are for load balancers and orchestrators: never limited, and they must
    // answer even when the counter store is down.
    let Some(path) = req
        .path()
        .strip_prefix(base)
        .filter(|p| state.settings.rate_limit.enabled && *p != HEALTH_PATH && *p != READY_PATH)
    else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let rule = rule_for(path);
    let who = client_ip(req.request(), &state.settings.rate_limit)
        .map_or_else(|| "no-trusted-ip".to_owned(), rate_limit_identity);
    let key = format!("rl:{who}|{path}");
    match state.cache.hit(&key, rule.window, rule.max).await {
        Ok(d) if d.allowed => next.call(req).await.map(ServiceResponse::map_into_left_body),
        Ok(d) => Ok(req
            .into_response(too_many(d.retry_after_secs))
            .map_into_right_body()),
        Err(e) if rule.max <= BRUTE_FORCE_MAX => {
            tracing::error!(error = %e, "rate-limit store unavailable; refusing a brute-force-limited request");
            let res = actix_web::ResponseError::error_response(&ApiError::unavailable());
            Ok(req.into_response(res).map_into_right_body())
        }
        Err(e) => {
            tracing::warn!(error = %e, "rate-limit store unavailable; counting in this process");
            match state.local_limits.hit(&key, rule.window, rule.max).await {
                Ok(d) if d.allowed => next.call(req).await.map(ServiceResponse::map_into_left_body),
                _ => Ok(req
                    .into_response(too_many(rule.window.as_secs()))
                    .map_into_right_body()),
            }
        }
    }
}

/// How many mails one address may be sent by each mail-sending endpoint in a window, whoever
/// asks: the per-client rules above do not stop a mail bomb sent from many addresses.
pub const PER_ADDRESS: Rule = Rule {
    window: Duration::from_secs(15 * 60),
    max: 5,
};

/// Counts a mail to `address` from the endpoint `path`, across replicas. The answer is the
/// same whether or not the address has an account.
///
/// # Errors
/// 429 once the address had its share; 503 when the counters cannot be reached (fails closed).
pub async fn limit_address(state: &AuthState, path: &str, address: &str) -> Result<(), ApiError> {
    if !state.settings.rate_limit.enabled {
        return Ok(());
    }
    let digest = castellan_crypto::signing::sha256_b64url(address.to_lowercase().as_bytes());
    let key = format!("rl:to:{digest}|{path}");
    match state.cache.hit(&key, PER_ADDRESS.window, PER_ADDRESS.max).await {
        Ok(d) if d.allowed => Ok(()),
        Ok(_) => Err(ApiError::new(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "Too many requests. Please try again later.",
        )),
        Err(e) => {
            tracing::error!(error = %e, "rate-limit store unavailable; refusing a mail");
            Err(ApiError::unavailable())
        }
    }
}

/// The strictest rules, which guard credentials and mail against brute force: these fail
/// closed when the shared counters are unreachable.
const BRUTE_FORCE_MAX: u32 = 3;

/// Better Auth's 429.
fn too_many(retry_after_secs: u64) -> HttpResponse {
    HttpResponse::TooManyRequests()
        .insert_header(("X-Retry-After", retry_after_secs.to_string()))
        .content_type("text/plain;charset=UTF-8")
        .body(r#"{"message":"Too many requests. Please try again later."}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn better_auths_default_rules() {
        assert_eq!(rule_for("/sign-in/email").max, 3);
        assert_eq!(rule_for("/sign-up/email").window, Duration::from_secs(10));
        assert_eq!(
            rule_for("/request-password-reset").window,
            Duration::from_secs(60)
        );
        assert_eq!(
            rule_for("/get-session"),
            Rule {
                window: Duration::from_secs(10),
                max: 100
            }
        );
    }
}
