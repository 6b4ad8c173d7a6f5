//! Outgoing mail. SMTP (lettre) when `SMTP_URL` is set; otherwise a dev mailbox: a JSON-lines
//! file in the reference server's `MAIL_LOG` format, which tests and the conformance suite read.
//! Mails carry secrets (links with tokens), so their contents are never logged. Services queue
//! mail in the [`Outbox`], which survives SMTP outages and restarts.

pub mod outbox;

pub use outbox::Outbox;

use std::path::PathBuf;
use std::sync::Arc;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt as _;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP_URL: {0}")]
    BadSmtpUrl(String),
    #[error("invalid address: {0}")]
    Address(String),
    #[error("smtp delivery failed: {0}")]
    Smtp(String),
    #[error("dev mailbox: {0}")]
    Io(#[from] std::io::Error),
}

/// One message. `kind`, `url`, `token` and `extra` are what the dev mailbox records; the subject
/// and text are what a person reads.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub url: Option<String>,
    pub token: Option<String>,
    pub extra: Map<String, Value>,
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// # Errors
    /// Delivery failures.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

pub type SharedMailer = Arc<dyn Mailer>;

/// SMTP if configured, else the dev mailbox at `mail_log`.
///
/// # Errors
/// An SMTP URL lettre cannot parse, or a sender address that is not one.
pub fn from_settings(
    smtp_url: Option<&str>,
    mail_from: &str,
    mail_log: &str,
) -> Result<SharedMailer, MailError> {
    match smtp_url {
        Some(url) => Ok(Arc::new(SmtpMailer::new(url, mail_from)?)),
        None => Ok(Arc::new(DevMailbox::new(mail_log))),
    }
}

/// Appends one JSON object per mail to a file.
pub struct DevMailbox {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl DevMailbox {
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    #[must_use]
    pub fn line(mail: &Mail, ts: &str) -> String {
        let mut obj = Map::new();
        obj.insert("ts".into(), ts.into());
        obj.insert("kind".into(), mail.kind.clone().into());
        obj.insert("to".into(), mail.to.clone().into());
        obj.insert("subject".into(), mail.subject.clone().into());
        if let Some(url) = &mail.url {
            obj.insert("url".into(), url.clone().into());
        }
        if let Some(token) = &mail.token {
            obj.insert("token".into(), token.clone().into());
        }
        for (k, v) in &mail.extra {
            obj.insert(k.clone(), v.clone());
        }
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        line
    }
}

#[async_trait::async_trait]
impl Mailer for DevMailbox {
    #[allow(
        clippy::disallowed_methods,
        reason = "the capture time of a dev-mailbox line, like a log timestamp, is the wall clock's"
    )]
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let line = Self::line(&mail, &ts);
        // One writer at a time so concurrent mails never interleave within a line.
        let _guard = self.lock.lock().await;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await?;
        }
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await?;
        f.write_all(line.as_bytes()).await?;
        f.flush().await?;
        Ok(())
    }
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// # Errors
    /// See [`from_settings`].
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::BadSmtpUrl(e.to_string()))?
            .build();
        let from = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Address(e.to_string()))?;
        Ok(Self { transport, from })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::Address(e.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| MailError::Smtp(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mailbox_line_matches_the_reference_format() {
        let mail = Mail {
            kind: "reset-password".into(),
            to: "a@b.test".into(),
            subject: "Reset your password".into(),
            text: "secret link".into(),
            url: Some("http://x/api/auth/reset-password/tok?callbackURL=%2Freset".into()),
            token: Some("tok".into()),
            extra: Map::new(),
        };
        let line = DevMailbox::line(&mail, "2026-01-01T00:00:00.000Z");
        assert!(line.ends_with('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["kind"], "reset-password");
        assert_eq!(v["to"], "a@b.test");
        assert_eq!(v["token"], "tok");
        assert_eq!(v["ts"], "2026-01-01T00:00:00.000Z");
        assert!(v.get("text").is_none());
    }
}
