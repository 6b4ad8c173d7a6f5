//! Account deletion, immediately or through a mailed confirmation link
//! (`DELETE_ACCOUNT_VERIFICATION=1`).

use castellan_crypto::random;
use castellan_data::repo::{users, verifications};
use castellan_mail::Mail;
use castellan_session::AuthSession;
use chrono::TimeDelta;
use serde_json::Map;

use super::{IdentityService, uri_component};
use crate::error::{IdentityError, IdentityResult};

/// Better Auth's `deleteTokenExpiresIn` default.
const TOKEN_TTL: TimeDelta = TimeDelta::days(1);

fn identifier(token: &str) -> String {
    format!("delete-account-{token}")
}

pub enum DeletionOutcome {
    Deleted,
    VerificationSent,
}

pub struct DeleteRequest<'a> {
    pub password: Option<&'a str>,
    pub token: Option<&'a str>,
    pub callback_url: Option<&'a str>,
}

impl IdentityService {
    /// `delete-user`. A given password must be right (an empty one never is); without one the
    /// session must be fresh. A token confirms a mailed deletion link.
    ///
    /// # Errors
    /// `InvalidPassword`, `SessionExpired`, `InvalidDeletionToken`, storage failures.
    pub async fn delete_user(
        &self,
        auth: &AuthSession,
        req: DeleteRequest<'_>,
    ) -> IdentityResult<DeletionOutcome> {
        if let Some(password) = req.password {
            self.verify_password(&auth.user.id, password).await?;
        }
        if let Some(token) = req.token {
            self.confirm_deletion(auth, token).await?;
            return Ok(DeletionOutcome::Deleted);
        }
        if self.settings.delete_account_verification {
            let token = random::lower_alphanumeric(32);
            let now = self.now();
            verifications::insert(
                &self.db,
                identifier(&token),
                auth.user.id.clone(),
                now + TOKEN_TTL,
                now,
            )
            .await?;
            let mut url = format!("{}?token={token}", self.auth_url("/delete-user/callback"));
            if let Some(cb) = req.callback_url {
                url.push_str(&format!("&callbackURL={}", uri_component(cb)));
            }
            self.send_mail(Mail {
                kind: "delete-account".into(),
                to: auth.user.email.clone(),
                subject: "Confirm the deletion of your account".to_owned(),
                text: format!("Open this link to delete your account:\n\n{url}\n"),
                url: Some(url),
                token: Some(token),
                extra: Map::new(),
            });
            return Ok(DeletionOutcome::VerificationSent);
        }
        if req.password.is_none() && !self.sessions.is_fresh(auth) {
            return Err(IdentityError::SessionExpired);
        }
        self.remove_user(&auth.user.id).await?;
        Ok(DeletionOutcome::Deleted)
    }

    /// Applies a deletion link; it must belong to the signed-in user.
    ///
    /// # Errors
    /// `InvalidDeletionToken`, storage failures.
    pub async fn confirm_deletion(&self, auth: &AuthSession, token: &str) -> IdentityResult<()> {
        // Check the owner before consuming, so someone else holding the link cannot burn it.
        let owner = verifications::peek(&self.db, &identifier(token), self.now())
            .await?
            .map(|r| r.value);
        if owner.as_deref() != Some(auth.user.id.as_str()) {
            return Err(IdentityError::InvalidDeletionToken);
        }
        if verifications::consume(&self.db, &identifier(token), self.now())
            .await?
            .is_none()
        {
            return Err(IdentityError::InvalidDeletionToken);
        }
        self.remove_user(&auth.user.id).await
    }

    async fn remove_user(&self, user_id: &str) -> IdentityResult<()> {
        self.sessions.revoke_all(user_id, None).await?;
        users::delete(&self.db, user_id, self.now()).await?;
        Ok(())
    }
}
