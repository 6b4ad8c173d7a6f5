//! The delivery worker. Each round claims due deliveries (the oldest pending one of each
//! endpoint, so an endpoint's events go out in order), posts them concurrently and records the
//! outcome. A claim is a lease: a worker that dies mid-delivery loses nothing, the delivery is
//! claimed again when the lease ends (at-least-once; receivers deduplicate by `webhook-id`).
//! The lease outlasts the request timeout, so no two workers ever make one attempt at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use castellan_config::WebhookSettings;
use castellan_crypto::keyring::Keyring;
use castellan_data::clock::iso;
use castellan_data::entity::webhook_endpoint;
use castellan_data::repo::webhooks::{self, Claimed, Settlement};
use castellan_data::{Clock, DatabaseConnection};
use castellan_mail::{Mail, Outbox};
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt as _;
use tokio::sync::Notify;

use crate::signature;
use crate::target::{self, PublicResolver};

/// Deliveries claimed per round (each to a different endpoint).
const BATCH: u64 = 32;
/// How often an idle worker looks for due deliveries.
const POLL: Duration = Duration::from_millis(500);
/// Response bytes read (and discarded) before the connection is dropped.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How long settled deliveries (and their events) are kept for `list-deliveries` and
/// `redeliver`.
pub const RETENTION: TimeDelta = TimeDelta::days(30);
/// How often a worker forgets what is older than [`RETENTION`].
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How long a worker holds a claim beyond the request timeout: time to record the outcome,
/// and room for replicas' clocks to differ. A worker that died mid-delivery holds its claim
/// this much longer than the attempt could have lasted.
const LEASE_MARGIN: TimeDelta = TimeDelta::seconds(10);

#[derive(Clone)]
pub struct Dispatcher {
    db: DatabaseConnection,
    keys: Keyring,
    settings: WebhookSettings,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    mail: Outbox,
    app_name: String,
    wake: Arc<Notify>,
    stopping: Arc<AtomicBool>,
    idle: Arc<Notify>,
    busy: Arc<AtomicBool>,
}

/// The body every attempt of a delivery carries: Standard Webhooks' `type`, `timestamp`, `data`.
#[must_use]
pub fn payload(kind: &str, created_at: &DateTime<Utc>, data: &str) -> String {
    let data: serde_json::Value = serde_json::from_str(data).unwrap_or(serde_json::Value::Null);
    serde_json::json!({ "type": kind, "timestamp": iso(created_at), "data": data }).to_string()
}

/// The secrets an endpoint is signed with now: the current one, and the previous one during
/// its grace period. Sealed at rest.
///
/// # Errors
/// A secret that cannot be unsealed (the deployment's keys changed without a rotation).
pub fn signing_secrets(
    keys: &Keyring,
    endpoint: &webhook_endpoint::Model,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let mut secrets = vec![keys.decrypt(&endpoint.secret).map_err(|e| e.to_string())?];
    if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_expires_at)
        && until > now
    {
        secrets.push(keys.decrypt(previous).map_err(|e| e.to_string())?);
    }
    Ok(secrets)
}

impl Dispatcher {
    /// # Errors
    /// The HTTP client cannot be built (no TLS backend).
    pub fn new(
        db: DatabaseConnection,
        keys: Keyring,
        settings: WebhookSettings,
        clock: Arc<dyn Clock>,
        mail: Outbox,
        app_name: String,
    ) -> Result<Self, reqwest::Error> {
        let mut client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("Castellan-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private_targets {
            client = client.dns_resolver(Arc::new(PublicResolver));
        }
        Ok(Self {
            db,
            keys,
            settings,
            client: client.build()?,
            clock,
            mail,
            app_name,
            wake: Arc::new(Notify::new()),
            stopping: Arc::new(AtomicBool::new(false)),
            idle: Arc::new(Notify::new()),
            busy: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Delivers until [`Dispatcher::stop`].
    pub async fn run(self) {
        let mut pruned_at: Option<tokio::time::Instant> = None;
        while !self.stopping.load(Ordering::SeqCst) {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned_at = Some(tokio::time::Instant::now());
                if let Err(e) = webhooks::prune(&self.db, self.clock.now() - RETENTION).await {
                    tracing::warn!(error = %e, "forgetting old webhook deliveries failed");
                }
            }
            self.busy.store(true, Ordering::SeqCst);
            let handled = match self.round().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    0
                }
            };
            self.busy.store(false, Ordering::SeqCst);
            self.idle.notify_waiters();
            if handled == 0 {
                let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
            }
        }
    }

    /// Lets the round in flight finish (within `budget`), then stops the worker.
    pub async fn stop(&self, budget: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        let _ = tokio::time::timeout(budget, async {
            while self.busy.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(Duration::from_millis(50), self.idle.notified()).await;
            }
        })
        .await;
    }

    /// One round: claim, deliver concurrently, settle. Returns how many deliveries it made.
    ///
    /// # Errors
    /// Database failures while claiming.
    pub async fn round(&self) -> Result<usize, castellan_data::DataError> {
        let now = self.clock.now();
        let lease =
            now + TimeDelta::from_std(self.settings.timeout).unwrap_or(TimeDelta::seconds(60)) + LEASE_MARGIN;
        let claimed = webhooks::claim(&self.db, now, lease, BATCH).await?;
        let n = claimed.len();
        futures_util::stream::iter(claimed)
            .for_each_concurrent(None, |c| async move { self.deliver(c).await })
            .await;
        Ok(n)
    }

    async fn deliver(&self, claimed: Claimed) {
        let (status, error) = match self.attempt(&claimed).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("the endpoint answered {status}"))),
            Err(e) => (None, Some(e)),
        };
        let now = self.clock.now();
        let attempts = usize::try_from(claimed.delivery.attempts).unwrap_or(usize::MAX);
        let (outcome, label) = match (error, status) {
            (None, Some(status)) => (Settlement::Delivered { status }, "delivered"),
            (Some(error), status) => match self.settings.retry_schedule.get(attempts.saturating_sub(1)) {
                Some(wait) => (
                    Settlement::Retry {
                        at: now + jittered(*wait),
                        status,
                        error,
                    },
                    "retry",
                ),
                None => (Settlement::GiveUp { status, error }, "failed"),
            },
            (None, None) => return,
        };
        castellan_metrics::WEBHOOK_ATTEMPTS
            .with_label_values(&[label])
            .inc();
        let gave_up = matches!(outcome, Settlement::GiveUp { .. });
        match webhooks::settle(&self.db, &claimed.delivery, outcome, now).await {
            Ok(true) if gave_up => self.tell_owners(&claimed.endpoint).await,
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(delivery = %claimed.delivery.id, "a webhook delivery's lease ran out before it was settled")
            }
            Err(e) => {
                tracing::warn!(delivery = %claimed.delivery.id, error = %e, "recording a webhook delivery failed")
            }
        }
    }

    /// Posts one attempt: the HTTP status, or why there was none.
    async fn attempt(&self, claimed: &Claimed) -> Result<i32, String> {
        let endpoint = &claimed.endpoint;
        let url = target::check_url(&endpoint.url, self.settings.allow_private_targets)
            .map_err(|e| e.to_string())?;
        let now = self.clock.now();
        let secrets = signing_secrets(&self.keys, endpoint, now)?;
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let body = payload(
            &claimed.event.kind,
            &claimed.event.created_at,
            &claimed.event.data,
        );
        let timestamp = now.timestamp();
        let id = &claimed.delivery.id;
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature::header(&secrets, id, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = i32::from(response.status().as_u16());
        // Read a bounded part of the answer, so a slow or endless body cannot hold the worker.
        let mut response = response;
        let mut read = 0usize;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read >= MAX_RESPONSE_BYTES {
                break;
            }
        }
        Ok(status)
    }

    async fn tell_owners(&self, endpoint: &webhook_endpoint::Model) {
        let addresses = match &endpoint.organization_id {
            Some(org) => castellan_authz::notices::owner_addresses(&self.db, org)
                .await
                .map_err(|e| e.to_string()),
            None => webhooks::platform_admin_addresses(&self.db)
                .await
                .map_err(|e| e.to_string()),
        };
        let addresses = match addresses {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(endpoint = %endpoint.id, error = %e, "finding who to tell about a disabled webhook failed");
                return;
            }
        };
        tracing::warn!(endpoint = %endpoint.id, "a webhook endpoint was disabled after its retries ran out");
        for to in addresses {
            let mut extra = serde_json::Map::new();
            extra.insert("webhookId".into(), endpoint.id.clone().into());
            extra.insert("url".into(), endpoint.url.clone().into());
            self.mail.queue(Mail {
                kind: "webhook-disabled".to_owned(),
                to,
                subject: format!("{}: a webhook endpoint was disabled", self.app_name),
                text: format!(
                    "Deliveries to {} kept failing for about a day, so the endpoint was disabled. \
                     Events are no longer sent to it. Fix the receiver, then enable the endpoint again \
                     and redeliver what failed.",
                    endpoint.url
                ),
                url: None,
                token: None,
                extra,
            });
        }
    }
}

/// `wait`, give or take a fifth, so retries of many endpoints do not arrive in step.
fn jittered(wait: Duration) -> TimeDelta {
    let mut b = [0u8; 2];
    castellan_crypto::random::fill(&mut b);
    let unit = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX);
    let factor = 0.8 + 0.4 * unit;
    TimeDelta::from_std(wait.mul_f64(factor)).unwrap_or(TimeDelta::hours(10))
}

/// A failed request, in words that name no secret (reqwest's errors carry the URL, which the
/// endpoint's owner chose and may hold a token).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        "the connection failed (refused, unreachable, or no public address)".to_owned()
    } else if e.is_body() || e.is_request() {
        "the request failed".to_owned()
    } else {
        "the request could not be made".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_fifth() {
        for _ in 0..200 {
            let j = jittered(Duration::from_secs(100));
            assert!(j >= TimeDelta::seconds(80) && j <= TimeDelta::seconds(120), "{j}");
        }
    }

    #[test]
    fn the_payload_is_type_timestamp_and_data() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .to_utc();
        let body: serde_json::Value =
            serde_json::from_str(&payload("member.add", &at, r#"{"organizationId":"o1"}"#)).unwrap();
        assert_eq!(body["type"], "member.add");
        assert_eq!(body["timestamp"], "2026-12-06T10:00:00.000Z");
        assert_eq!(body["data"]["organizationId"], "o1");
    }
}
