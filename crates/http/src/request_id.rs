//! A request id on every answer (`x-request-id`) and on every log line written while the
//! request is served, so an operator can find one request's lines. A caller's (or a proxy's) id
//! is kept when it is a plain token; anything else is replaced, so no client text reaches the
//! logs through it. The span carries the id and the method only, and the access line the route
//! pattern, status and time: paths hold tokens.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument as _;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Whether a presented id may be kept: 1 to 128 characters of `[A-Za-z0-9._-]`.
#[must_use]
pub fn is_acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The middleware.
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn request_id<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable(v))
        .map_or_else(castellan_crypto::random::generate_id, str::to_owned);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method());
    let started = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    // The route's pattern (`/reset-password/{token}`), never the path itself.
    let route = res.request().match_pattern().unwrap_or_else(|| "-".to_owned());
    record(res.request().method().as_str(), &route, &res, started.elapsed());
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            route,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "served"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(res)
}

/// Counts the answer: by route and status, its time, a rate-limit refusal, a sign-in's outcome.
fn record<B>(method: &str, route: &str, res: &ServiceResponse<B>, elapsed: std::time::Duration) {
    use castellan_metrics as m;
    let status = res.status();
    m::HTTP_REQUESTS
        .with_label_values(&[method, route, status.as_str()])
        .inc();
    m::HTTP_DURATION
        .with_label_values(&[method, route])
        .observe(elapsed.as_secs_f64());
    if status == actix_web::http::StatusCode::TOO_MANY_REQUESTS {
        m::RATE_LIMITED.with_label_values(&[route]).inc();
        return;
    }
    if let Some(sign_in) = m::sign_in_method(route) {
        // A callback always redirects; its target says whether the login failed.
        let refused_by_redirect = status.is_redirection()
            && res
                .headers()
                .get(actix_web::http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| l.contains("error="));
        let ok = (status.is_success() || status.is_redirection()) && !refused_by_redirect;
        m::SIGN_INS
            .with_label_values(&[sign_in, if ok { "success" } else { "failure" }])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tokens_are_kept() {
        for ok in ["abc", "req-1.2_3", &"a".repeat(128)] {
            assert!(is_acceptable(ok), "{ok}");
        }
        for bad in ["", &"a".repeat(129), "a b", "a\u{7f}", "id;drop", "é"] {
            assert!(!is_acceptable(bad), "{bad}");
        }
    }
}
