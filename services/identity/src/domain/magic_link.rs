//! Magic links (Better Auth's `magicLink` plugin): a single-use link mailed to an address signs
//! in as it, creating the user on first use. Tokens are stored hashed (Better Auth's `hashed`
//! storage: SHA-256, base64url), live five minutes and are taken once.

use castellan_crypto::random;
use castellan_data::repo::verifications;
use castellan_mail::Mail;
use castellan_session::{AuthSession, ClientInfo};
use serde::{Deserialize, Serialize};
use serde_json::Map;

use super::mailbox::{MailboxOwner, NewProfile};
use super::{IdentityService, uri_component};
use crate::error::{IdentityError, IdentityResult};

/// What a magic link remembers: Better Auth's record.
#[derive(Serialize, Deserialize)]
struct Record {
    #[serde(rename = "type", default = "magic_link_type")]
    kind: String,
    email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

fn magic_link_type() -> String {
    "magic-link".to_owned()
}

/// Where the mailed link sends its user afterwards.
#[derive(Debug, Default)]
pub struct LinkTargets {
    pub callback_url: Option<String>,
    pub new_user_callback_url: Option<String>,
    pub error_callback_url: Option<String>,
}

/// A verified link: the session, and whether the user was created by it.
pub struct Verified {
    pub auth: AuthSession,
    pub is_new_user: bool,
}

/// Why a link did not sign anyone in, as Better Auth's `?error=` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefused {
    InvalidToken,
    SignUpDisabled,
}

impl LinkRefused {
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidToken => "INVALID_TOKEN",
            Self::SignUpDisabled => "new_user_signup_disabled",
        }
    }
}

fn identifier(token: &str) -> String {
    format!(
        "magic-link:{}",
        castellan_crypto::signing::sha256_b64url(token.as_bytes())
    )
}

impl IdentityService {
    /// `sign-in/magic-link`: mails a link to `email`, whether or not a user has it (the answer
    /// tells nothing about the address).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn send_magic_link(
        &self,
        email: &str,
        name: Option<String>,
        targets: &LinkTargets,
    ) -> IdentityResult<()> {
        let email = email.to_lowercase();
        let token = random::letters(32);
        let now = self.now();
        let record = Record {
            kind: magic_link_type(),
            email: email.clone(),
            name,
        };
        let value = serde_json::to_string(&record).map_err(|e| IdentityError::Internal(e.to_string()))?;
        let expires = now + chrono::Duration::seconds(self.settings.magic_link.expires_in_secs);
        verifications::insert(&self.db, identifier(&token), value, expires, now).await?;
        let mut url = format!(
            "{}?token={token}&callbackURL={}",
            self.auth_url("/magic-link/verify"),
            uri_component(targets.callback_url.as_deref().unwrap_or("/"))
        );
        for (key, value) in [
            ("newUserCallbackURL", &targets.new_user_callback_url),
            ("errorCallbackURL", &targets.error_callback_url),
        ] {
            if let Some(v) = value {
                url.push_str(&format!("&{key}={}", uri_component(v)));
            }
        }
        self.send_mail(Mail {
            kind: "magic-link".into(),
            to: email,
            subject: format!("Sign in to {}", self.settings.app_name),
            text: format!("Sign in by opening this link (it works once, for five minutes):\n\n{url}\n"),
            url: Some(url),
            token: Some(token),
            extra: Map::new(),
        });
        Ok(())
    }

    /// `magic-link/verify`: takes the link (once), finds or creates its user, opens a session.
    /// A user who had not proven the address loses what was set up without that proof (their
    /// password and sessions): whoever opens the link owns the mailbox, not necessarily the
    /// account someone registered with it.
    ///
    /// # Errors
    /// Storage failures. A link that signs no one in (bad, spent, expired, or a new user while
    /// sign-up is off) is `Ok(Err(LinkRefused))`: the route turns it into a redirect.
    pub async fn verify_magic_link(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<Result<Verified, LinkRefused>, IdentityError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(Err(LinkRefused::InvalidToken));
        }
        let now = self.now();
        let Some(row) = verifications::consume(&self.db, &identifier(token), now).await? else {
            return Ok(Err(LinkRefused::InvalidToken));
        };
        let Ok(record) = serde_json::from_str::<Record>(&row.value) else {
            return Ok(Err(LinkRefused::InvalidToken));
        };
        if record.kind != "magic-link" || !castellan_domain::is_valid_email(&record.email) {
            return Ok(Err(LinkRefused::InvalidToken));
        }
        let profile = NewProfile {
            name: record.name.unwrap_or_default(),
            image: None,
        };
        let sign_up = !self.settings.magic_link.disable_sign_up;
        let Some(MailboxOwner { user, is_new_user }) =
            self.mailbox_owner(&record.email, profile, sign_up).await?
        else {
            return Ok(Err(LinkRefused::SignUpDisabled));
        };
        let auth = self
            .sessions
            .create(
                &user,
                castellan_session::Authentication::by("magic-link"),
                client,
                false,
            )
            .await?;
        Ok(Ok(Verified { auth, is_new_user }))
    }
}
