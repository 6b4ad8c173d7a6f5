//! The durable way mail leaves: [`Outbox::queue`] stores the message (sealed, since it carries
//! sign-in links) in `castellan_mail_outbox`, and a sender task hands due messages to the
//! mailer, deleting each only once the mail server took it. A failed attempt is retried with
//! exponential backoff; after [`MAX_ATTEMPTS`] the message is given up and logged (never its
//! contents). On shutdown, [`Outbox::drain`] sends what is due before the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use castellan_crypto::keyring::Keyring;
use castellan_data::repo::mail_outbox;
use castellan_data::{Clock, DatabaseConnection};
use chrono::TimeDelta;
use tokio::sync::Notify;

use crate::{Mail, SharedMailer};

/// Attempts before a message is given up: the backoff doubles from one second up to 34 minutes,
/// so about eleven hours of retries.
pub const MAX_ATTEMPTS: i32 = 30;
/// How long one attempt may hold a message before another sender may take it.
const LEASE: TimeDelta = TimeDelta::seconds(120);
/// How often the sender looks for due mail when nobody wakes it.
const POLL: Duration = Duration::from_secs(1);
const BATCH: u64 = 20;

#[derive(Clone)]
pub struct Outbox {
    db: DatabaseConnection,
    mailer: SharedMailer,
    keys: Keyring,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    /// Queue writes still in flight (see [`Outbox::queue`]).
    queuing: Arc<AtomicUsize>,
}

impl Outbox {
    #[must_use]
    pub fn new(db: DatabaseConnection, mailer: SharedMailer, keys: Keyring, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            mailer,
            keys,
            clock,
            wake: Arc::new(Notify::new()),
            queuing: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Queues `mail` without waiting: how long a request takes must not reveal whether a mail
    /// was sent (whether an account exists), so the write happens beside the request, and the
    /// sender is woken as soon as it lands.
    pub fn queue(&self, mail: Mail) {
        let outbox = self.clone();
        self.queuing.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let kind = mail.kind.clone();
            if let Err(e) = outbox.store(&mail).await {
                tracing::error!(kind, error = %e, "mail could not be queued");
            }
            outbox.queuing.fetch_sub(1, Ordering::SeqCst);
            outbox.wake.notify_one();
        });
    }

    async fn store(&self, mail: &Mail) -> Result<(), String> {
        let json = serde_json::to_string(mail).map_err(|e| e.to_string())?;
        let sealed = self.keys.encrypt(&json).map_err(|e| e.to_string())?;
        mail_outbox::enqueue(
            &self.db,
            castellan_crypto::random::generate_id(),
            sealed,
            self.clock.now(),
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// The sender: delivers due mail whenever woken, and at least every second.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::error!(error = %e, "mail outbox unavailable");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One pass over the due mail; returns how many were delivered.
    ///
    /// # Errors
    /// Database failures.
    pub async fn deliver_due(&self) -> Result<usize, castellan_data::DataError> {
        let mut delivered = 0;
        let now = self.clock.now();
        for row in mail_outbox::due(&self.db, now, BATCH).await? {
            if !mail_outbox::claim(&self.db, &row, now + LEASE).await? {
                continue;
            }
            let attempt = row.attempts + 1;
            let outcome = match self
                .keys
                .decrypt(&row.payload)
                .ok()
                .and_then(|json| serde_json::from_str::<Mail>(&json).ok())
            {
                Some(mail) => self.mailer.send(mail).await.map_err(|e| e.to_string()),
                // Sealed under a secret that was since retired: no retry can help.
                None => {
                    mail_outbox::failed(&self.db, &row.id, "unreadable payload".to_owned(), None, now)
                        .await?;
                    tracing::error!(id = row.id, "queued mail is unreadable; given up");
                    continue;
                }
            };
            match outcome {
                Ok(()) => {
                    mail_outbox::delivered(&self.db, &row.id).await?;
                    delivered += 1;
                }
                Err(error) => {
                    let next = (attempt < MAX_ATTEMPTS).then(|| self.clock.now() + backoff(attempt));
                    if next.is_none() {
                        tracing::error!(id = row.id, attempts = attempt, error, "mail given up");
                    } else {
                        tracing::warn!(
                            id = row.id,
                            attempts = attempt,
                            error,
                            "mail delivery failed; will retry"
                        );
                    }
                    mail_outbox::failed(&self.db, &row.id, error, next, self.clock.now()).await?;
                }
            }
        }
        Ok(delivered)
    }

    /// On shutdown: waits for queue writes in flight, then delivers what is due, for at most
    /// `budget`. Whatever is left stays queued for the next start.
    pub async fn drain(&self, budget: Duration) {
        let deadline = tokio::time::Instant::now() + budget;
        while self.queuing.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let pass = async {
            while let Ok(n) = self.deliver_due().await {
                if n == 0 {
                    break;
                }
            }
        };
        if tokio::time::timeout_at(deadline, pass).await.is_err() {
            tracing::warn!("shutdown: mail still queued; it goes out after the next start");
        }
    }
}

/// One second, doubling per attempt, at most 2048 seconds.
fn backoff(attempt: i32) -> TimeDelta {
    let exponent = u32::try_from(attempt.clamp(1, 12) - 1).unwrap_or(0);
    TimeDelta::seconds((1_i64 << exponent).min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_to_half_an_hour() {
        let secs: Vec<i64> = [1, 2, 3, 10, 12, 13, 30]
            .iter()
            .map(|a| backoff(*a).num_seconds())
            .collect();
        assert_eq!(secs, [1, 2, 4, 512, 2048, 2048, 2048]);
        let total: i64 = (1..MAX_ATTEMPTS).map(|a| backoff(a).num_seconds()).sum();
        // About eleven hours of retries in all.
        assert_eq!(total, 38_911);
    }
}
