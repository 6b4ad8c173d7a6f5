//! Password reset: a one-time token in the `verification` table, mailed as a link.

use std::time::Duration;

use castellan_crypto::random;
use castellan_data::repo::{accounts, users, verifications};
use castellan_mail::Mail;
use chrono::TimeDelta;
use serde_json::Map;

use super::{IdentityService, uri_component};
use crate::error::{IdentityError, IdentityResult};

/// Better Auth's `resetPasswordTokenExpiresIn` default.
const TOKEN_TTL: TimeDelta = TimeDelta::hours(1);
/// Answering takes at least this long whether or not the address exists.
const ANSWER_FLOOR: Duration = Duration::from_millis(200);

fn identifier(token: &str) -> String {
    format!("reset-password:{token}")
}

impl IdentityService {
    /// Mails a reset link if the account exists. The caller answers the same either way.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn request_password_reset(&self, email: &str, redirect_to: Option<&str>) -> IdentityResult<()> {
        let deadline = tokio::time::Instant::now() + ANSWER_FLOOR;
        if let Some(user) = users::find_by_email(&self.db, email).await? {
            let token = random::alphanumeric(24);
            let now = self.now();
            verifications::insert(
                &self.db,
                identifier(&token),
                user.id.clone(),
                now + TOKEN_TTL,
                now,
            )
            .await?;
            let url = format!(
                "{}/{token}?callbackURL={}",
                self.auth_url("/reset-password"),
                uri_component(redirect_to.unwrap_or(""))
            );
            self.send_mail(Mail {
                kind: "reset-password".into(),
                to: user.email,
                subject: "Reset your password".to_owned(),
                text: format!("Reset your password by opening this link:\n\n{url}\n"),
                url: Some(url),
                token: Some(token),
                extra: Map::new(),
            });
        }
        tokio::time::sleep_until(deadline).await;
        Ok(())
    }

    /// Whether a reset token is currently valid (the link's landing check; does not consume it).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn reset_token_is_valid(&self, token: &str) -> IdentityResult<bool> {
        Ok(verifications::peek(&self.db, &identifier(token), self.now())
            .await?
            .is_some())
    }

    /// Consumes the token and sets the new password. All of the user's sessions end: a reset
    /// usually means the old password is no longer trusted.
    ///
    /// # Errors
    /// Password length, `InvalidResetToken`, storage failures.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> IdentityResult<()> {
        self.check_password_length(new_password)?;
        let row = verifications::consume(&self.db, &identifier(token), self.now())
            .await?
            .ok_or(IdentityError::InvalidResetToken)?;
        let user_id = row.value;
        if users::find_by_id(&self.db, &user_id).await?.is_none() {
            return Err(IdentityError::InvalidResetToken);
        }
        let hash = self.passwords.hash(new_password).await?;
        let now = self.now();
        match accounts::find_credential(&self.db, &user_id).await? {
            Some(account) => accounts::set_password(&self.db, account, hash, now).await?,
            None => accounts::insert_credential(&self.db, random::generate_id(), &user_id, hash, now).await?,
        };
        self.sessions.revoke_all(&user_id, None).await?;
        Ok(())
    }
}
