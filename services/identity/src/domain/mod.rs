//! The identity use cases: accounts and passwords, email verification and change, password
//! reset, and account deletion. Nothing here knows about HTTP; routes translate.

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod deletion;
pub mod email;
pub mod email_otp;
pub mod magic_link;
pub mod mailbox;
pub mod passkey;
pub mod password_reset;
pub mod social;
pub mod two_factor;

use std::sync::Arc;

use castellan_config::Settings;
use castellan_data::{Clock, DatabaseConnection};
use castellan_mail::{Mail, Outbox};
use castellan_session::{Passwords, SessionManager};
use chrono::{DateTime, Utc};

use crate::error::{IdentityError, IdentityResult};

/// Everything the use cases need; the routes build one per request from the registered
/// dependencies, `castellan admin create` from the bootstrap's.
pub struct IdentityService {
    pub(crate) db: DatabaseConnection,
    pub(crate) sessions: Arc<SessionManager>,
    pub(crate) passwords: Passwords,
    pub(crate) mailer: Outbox,
    pub(crate) settings: Arc<Settings>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) authz: Arc<castellan_authz::Authorizer>,
}

impl IdentityService {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        sessions: Arc<SessionManager>,
        passwords: Passwords,
        mailer: Outbox,
        settings: Arc<Settings>,
        clock: Arc<dyn Clock>,
        authz: Arc<castellan_authz::Authorizer>,
    ) -> Self {
        Self {
            db,
            sessions,
            passwords,
            mailer,
            settings,
            clock,
            authz,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Better Auth's length rule (8..=128 characters by default).
    pub(crate) fn check_password_length(&self, password: &str) -> IdentityResult<()> {
        let len = password.chars().count();
        if len < self.settings.password.min_length {
            return Err(IdentityError::PasswordTooShort);
        }
        if len > self.settings.password.max_length {
            return Err(IdentityError::PasswordTooLong);
        }
        Ok(())
    }

    /// Queues a mail without waiting (see `castellan_mail::Outbox::queue`).
    pub(crate) fn send_mail(&self, mail: Mail) {
        self.mailer.queue(mail);
    }

    /// `<origin>/api/auth` + `path`.
    pub(crate) fn auth_url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.auth_url())
    }
}

pub(crate) use castellan_crypto::encoding::uri_component;
