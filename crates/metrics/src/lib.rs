//! Every Prometheus metric Castellan exports, named in one place. The crates that observe
//! something (HTTP, sessions, the policy cache) count into these; `castellan-platform` serves
//! [`render`] at `GET /metrics`. One registry per process: replicas are scraped one by one.

use std::sync::LazyLock;

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn registered<C: prometheus::core::Collector + Clone + 'static>(collector: C) -> C {
    // A name registered twice is a programming error caught by the unit test below; the
    // metric still counts, it is only left out of the output.
    let _ = REGISTRY.register(Box::new(collector.clone()));
    collector
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable_metric()))
}

/// A counter whose every label value is known, each listed (at 0) from the first scrape, so
/// ratios can be computed before anything happened.
fn counter_over(name: &str, help: &str, labels: &[&str], values: &[&[&str]]) -> IntCounterVec {
    let c = counter(name, help, labels);
    for v in values {
        c.with_label_values(v);
    }
    c
}

/// The sign-in methods `castellan_sign_ins_total` tells apart.
pub const SIGN_IN_METHODS: [&str; 6] = ["email", "social", "oauth2", "sso", "two_factor", "id_token"];

/// The metric definitions are constants; a bad one fails the unit test, never a deployment.
fn unreachable_metric<T>() -> T {
    unreachable!("a metric definition in castellan-metrics is invalid")
}

/// `castellan_http_requests_total{method, route, status}`: answers, by route pattern (never
/// the path itself).
pub static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "castellan_http_requests_total",
        "HTTP answers by method, route pattern and status",
        &["method", "route", "status"],
    )
});

/// `castellan_http_request_duration_seconds{method, route}`.
pub static HTTP_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        "castellan_http_request_duration_seconds",
        "Time to answer, by method and route pattern",
    )
    .buckets(vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]);
    registered(HistogramVec::new(opts, &["method", "route"]).unwrap_or_else(|_| unreachable_metric()))
});

/// `castellan_sign_ins_total{method, outcome}`: `method` is `email`, `social`, `oauth2`, `sso`,
/// `two_factor` or `id_token`; `outcome` is `success` or `failure`.
pub static SIGN_INS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let all: Vec<[&str; 2]> = SIGN_IN_METHODS
        .iter()
        .flat_map(|m| [[*m, "success"], [*m, "failure"]])
        .collect();
    let values: Vec<&[&str]> = all.iter().map(<[&str; 2]>::as_slice).collect();
    counter_over(
        "castellan_sign_ins_total",
        "Sign-in attempts by method and outcome",
        &["method", "outcome"],
        &values,
    )
});

/// `castellan_rate_limited_total{route}`: requests refused with 429.
pub static RATE_LIMITED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "castellan_rate_limited_total",
        "Requests refused by the rate limiter, by route pattern",
        &["route"],
    )
});

/// `castellan_session_cache_total{result}`: session lookups answered by the cache (`hit`) or
/// the database (`miss`).
pub static SESSION_CACHE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_over(
        "castellan_session_cache_total",
        "Session lookups by whether the cache answered",
        &["result"],
        &[&["hit"], &["miss"]],
    )
});

/// `castellan_policy_cache_total{result}`: organization policy lookups answered from memory
/// (`hit`) or loaded from the database (`miss`).
pub static POLICY_CACHE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_over(
        "castellan_policy_cache_total",
        "Organization policy lookups by whether the cache answered",
        &["result"],
        &[&["hit"], &["miss"]],
    )
});

/// `castellan_membership_cache_total{result}`: membership checks answered from the replica's
/// membership cache (`hit`) or read from the database (`miss`).
pub static MEMBERSHIP_CACHE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_over(
        "castellan_membership_cache_total",
        "Membership checks by whether the cache answered",
        &["result"],
        &[&["hit"], &["miss"]],
    )
});

/// `castellan_db_pool_connections{state}`: `open` and `idle` connections of the pool, and its
/// `max`, as of the scrape.
pub static DB_POOL: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    let gauge = registered(
        IntGaugeVec::new(
            Opts::new(
                "castellan_db_pool_connections",
                "Database pool connections by state",
            ),
            &["state"],
        )
        .unwrap_or_else(|_| unreachable_metric()),
    );
    for state in ["open", "idle", "max"] {
        gauge.with_label_values(&[state]);
    }
    gauge
});

/// `castellan_mail_outbox_waiting`: queued mails not yet sent, as of the scrape.
pub static MAIL_BACKLOG: LazyLock<IntGauge> = LazyLock::new(|| {
    registered(
        IntGauge::new("castellan_mail_outbox_waiting", "Mails queued and not yet sent")
            .unwrap_or_else(|_| unreachable_metric()),
    )
});

/// `castellan_webhook_backlog`: deliveries still to be made, as of the scrape.
pub static WEBHOOK_BACKLOG: LazyLock<IntGauge> = LazyLock::new(|| {
    registered(
        IntGauge::new("castellan_webhook_backlog", "Webhook deliveries not yet made")
            .unwrap_or_else(|_| unreachable_metric()),
    )
});

/// `castellan_webhook_attempts_total{outcome}`: delivery attempts (`delivered`, `retry`,
/// `failed`: the retry schedule was spent).
pub static WEBHOOK_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter_over(
        "castellan_webhook_attempts_total",
        "Webhook delivery attempts by outcome",
        &["outcome"],
        &[&["delivered"], &["retry"], &["failed"]],
    )
});

/// Counts a cache lookup.
pub fn cache_lookup(metric: &IntCounterVec, hit: bool) {
    metric
        .with_label_values(&[if hit { "hit" } else { "miss" }])
        .inc();
}

/// The sign-in method a route is, if it is one. Callbacks end in a redirect whose query says
/// whether it failed (`error=`).
#[must_use]
pub fn sign_in_method(route: &str) -> Option<&'static str> {
    let path = route.strip_prefix("/api/auth").unwrap_or(route);
    Some(match path {
        "/sign-in/email" => "email",
        "/callback/{provider}" => "social",
        "/oauth2/callback/{provider}" => "oauth2",
        "/sso/callback/{provider_id}" | "/sso/saml2/sp/acs/{provider_id}" => "sso",
        "/two-factor/verify-totp" | "/two-factor/verify-otp" | "/two-factor/verify-backup-code" => {
            "two_factor"
        }
        _ => return None,
    })
}

/// The text exposition of every metric.
#[must_use]
pub fn render() -> String {
    // Touch every metric, so each is listed from the first scrape on.
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&HTTP_DURATION);
    LazyLock::force(&SIGN_INS);
    LazyLock::force(&RATE_LIMITED);
    LazyLock::force(&SESSION_CACHE);
    LazyLock::force(&POLICY_CACHE);
    LazyLock::force(&MEMBERSHIP_CACHE);
    LazyLock::force(&DB_POOL);
    LazyLock::force(&MAIL_BACKLOG);
    LazyLock::force(&WEBHOOK_BACKLOG);
    LazyLock::force(&WEBHOOK_ATTEMPTS);
    let mut out = Vec::new();
    if TextEncoder::new().encode(&REGISTRY.gather(), &mut out).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_registered_and_rendered() {
        HTTP_REQUESTS
            .with_label_values(&["GET", "/api/auth/ok", "200"])
            .inc();
        HTTP_DURATION
            .with_label_values(&["GET", "/api/auth/ok"])
            .observe(0.01);
        RATE_LIMITED.with_label_values(&["/api/auth/sign-in/email"]).inc();
        SIGN_INS.with_label_values(&["email", "failure"]).inc();
        cache_lookup(&SESSION_CACHE, true);
        let text = render();
        for name in [
            "castellan_http_requests_total",
            "castellan_sign_ins_total",
            "castellan_session_cache_total",
            "castellan_policy_cache_total",
            "castellan_membership_cache_total",
            "castellan_rate_limited_total",
            "castellan_http_request_duration_seconds",
            "castellan_db_pool_connections",
            "castellan_mail_outbox_waiting",
            "castellan_webhook_backlog",
            "castellan_webhook_attempts_total",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
        assert!(
            text.contains(r#"castellan_sign_ins_total{method="email",outcome="failure"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"castellan_sign_ins_total{method="sso",outcome="success"} 0"#),
            "listed before use"
        );
        assert!(
            text.contains(r#"castellan_policy_cache_total{result="miss"} 0"#),
            "listed before use"
        );
        assert_eq!(
            REGISTRY.gather().len(),
            11,
            "one family per metric, none refused as a duplicate"
        );
    }

    #[test]
    fn sign_in_routes_are_named_by_method() {
        assert_eq!(sign_in_method("/api/auth/sign-in/email"), Some("email"));
        assert_eq!(sign_in_method("/api/auth/callback/{provider}"), Some("social"));
        assert_eq!(sign_in_method("/api/auth/get-session"), None);
    }
}
