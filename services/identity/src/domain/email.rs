//! Email verification and email change. Verification links carry an HS256 JWT keyed by the
//! secret, exactly as Better Auth's, so links issued by either server work with the other.

use std::time::Duration;

use castellan_crypto::jwt::{self, JwtError};
use castellan_data::DataError;
use castellan_data::entity::user;
use castellan_data::repo::users;
use castellan_mail::Mail;
use castellan_session::AuthSession;
use serde_json::{Map, Value};

use super::{IdentityService, uri_component};
use crate::error::{IdentityError, IdentityResult};

/// Better Auth's `emailVerification.expiresIn` default.
const TOKEN_TTL_SECS: i64 = 3600;
/// Without a session, answering takes at least this long whether or not the address exists.
const ANONYMOUS_FLOOR: Duration = Duration::from_millis(500);
const CHANGE_EMAIL_VERIFICATION: &str = "change-email-verification";

/// What a verification link did.
pub struct EmailVerified {
    /// The updated user, for an email change (Better Auth returns it only then).
    pub changed_user: Option<user::Model>,
    /// A session started by `AUTO_SIGN_IN_AFTER_VERIFICATION`.
    pub new_session: Option<AuthSession>,
}

impl IdentityService {
    /// Mails a verification link for `user`'s address, or for `change_to` when changing it.
    pub(crate) fn send_verification_mail(
        &self,
        user: &user::Model,
        callback_url: Option<&str>,
        change_to: Option<&str>,
    ) {
        let mut claims = Map::new();
        claims.insert("email".into(), user.email.to_lowercase().into());
        if let Some(new) = change_to {
            claims.insert("updateTo".into(), new.into());
            claims.insert("requestType".into(), CHANGE_EMAIL_VERIFICATION.into());
        }
        claims.insert("userId".into(), user.id.clone().into());
        let token = jwt::sign_hs256(
            &self.settings.secret,
            claims,
            self.now().timestamp(),
            TOKEN_TTL_SECS,
        );
        let url = format!(
            "{}?token={token}&callbackURL={}",
            self.auth_url("/verify-email"),
            uri_component(callback_url.unwrap_or("/"))
        );
        self.send_mail(Mail {
            kind: "verification".into(),
            to: change_to.unwrap_or(&user.email).to_owned(),
            subject: "Verify your email address".to_owned(),
            text: format!("Verify your email address by opening this link:\n\n{url}\n"),
            url: Some(url),
            token: Some(token),
            extra: Map::new(),
        });
    }

    /// `send-verification-email`. With a session the address must be the caller's and not yet
    /// verified; without one the answer is the same whether or not the address exists.
    ///
    /// # Errors
    /// `EmailMismatch`, `EmailAlreadyVerified`, storage failures.
    pub async fn request_verification(
        &self,
        email: &str,
        callback_url: Option<&str>,
        session: Option<&AuthSession>,
    ) -> IdentityResult<()> {
        if let Some(auth) = session {
            if auth.user.email != email.to_lowercase() {
                return Err(IdentityError::EmailMismatch);
            }
            if auth.user.email_verified {
                return Err(IdentityError::EmailAlreadyVerified);
            }
            self.send_verification_mail(&auth.user, callback_url, None);
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + ANONYMOUS_FLOOR;
        if let Some(user) = users::find_by_email(&self.db, email).await?
            && !user.email_verified
        {
            self.send_verification_mail(&user, callback_url, None);
        }
        tokio::time::sleep_until(deadline).await;
        Ok(())
    }

    /// Applies a verification link.
    ///
    /// # Errors
    /// Invalid or expired tokens, an unknown user, an email change without the user's session.
    pub async fn verify_email(
        &self,
        token: &str,
        session: Option<&AuthSession>,
    ) -> IdentityResult<EmailVerified> {
        let claims = jwt::verify_hs256_rotated(&self.settings.secrets, token, self.now().timestamp())
            .map_err(|e| match e {
                JwtError::Expired => IdentityError::VerificationTokenExpired,
                JwtError::Invalid => IdentityError::InvalidVerificationToken,
            })?;
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .ok_or(IdentityError::InvalidVerificationToken)?;
        let user = users::find_by_email(&self.db, email)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        let now = self.now();

        if let Some(new_email) = claims.get("updateTo").and_then(Value::as_str) {
            // An email change needs the user's own session, so a leaked link alone cannot move
            // the account to another address.
            if session.is_none_or(|s| s.user.id != user.id) {
                return Err(IdentityError::Unauthorized);
            }
            let updated = match users::set_email(&self.db, user, new_email, true, now).await {
                Err(DataError::Conflict) => return Err(IdentityError::UserAlreadyExists),
                other => other?,
            };
            self.sessions.forget_user(&updated.id).await?;
            return Ok(EmailVerified {
                changed_user: Some(updated),
                new_session: None,
            });
        }

        if user.email_verified {
            return Ok(EmailVerified {
                changed_user: None,
                new_session: None,
            });
        }
        let email = user.email.clone();
        let updated = users::set_email(&self.db, user, &email, true, now).await?;
        self.sessions.forget_user(&updated.id).await?;
        let new_session = if self.settings.auto_sign_in_after_verification && session.is_none() {
            Some(
                self.sessions
                    .create(
                        &updated,
                        castellan_session::Authentication::by("email-verification"),
                        &castellan_session::ClientInfo::default(),
                        false,
                    )
                    .await?,
            )
        } else {
            None
        };
        Ok(EmailVerified {
            changed_user: None,
            new_session,
        })
    }

    /// `change-email`: mails a verification link to the new address; the change happens when it
    /// is opened. A taken address gets the same answer, so the endpoint reveals nothing.
    ///
    /// # Errors
    /// `EmailIsTheSame`, storage failures.
    pub async fn change_email(
        &self,
        auth: &AuthSession,
        new_email: &str,
        callback_url: Option<&str>,
    ) -> IdentityResult<()> {
        if auth.session.impersonated_by.is_some() {
            return Err(IdentityError::ImpersonationForbidden);
        }
        let new_email = new_email.to_lowercase();
        if new_email == auth.user.email {
            return Err(IdentityError::EmailIsTheSame);
        }
        if users::find_by_email(&self.db, &new_email).await?.is_some() {
            return Ok(());
        }
        self.send_verification_mail(&auth.user, callback_url, Some(&new_email));
        Ok(())
    }
}
