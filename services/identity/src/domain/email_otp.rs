//! One-time codes by mail (Better Auth's `emailOTP` plugin): sign-in (creating the user on first
//! use), email verification, password reset and email change.
//!
//! A code lives in the `verification` table under Better Auth's identifier
//! (`<type>-otp-<email>`), stored as its SHA-256 (Better Auth's `hashed` storage) followed by
//! the wrong guesses so far: `<hash>:<attempts>`. Checking takes the row first, so of two
//! concurrent guesses only one is compared; a wrong guess puts it back with one more attempt,
//! and a code past its attempts stays taken. Unknown addresses get the same answers as known
//! ones wherever no valid code has been shown yet.

use castellan_crypto::{random, signing};
use castellan_data::DataError;
use castellan_data::entity::user;
use castellan_data::repo::{accounts, users, verifications};
use castellan_mail::Mail;
use castellan_session::{AuthSession, ClientInfo};
use serde_json::Map;
use subtle::ConstantTimeEq;

use super::IdentityService;
use super::mailbox::{MailboxOwner, NewProfile};
use crate::error::{IdentityError, IdentityResult};

/// What a code is for: Better Auth's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpPurpose {
    SignIn,
    EmailVerification,
    ForgetPassword,
    ChangeEmail,
}

impl OtpPurpose {
    /// Every purpose, in Better Auth's order (its zod enum's).
    pub const ALL: [Self; 4] = [
        Self::EmailVerification,
        Self::SignIn,
        Self::ForgetPassword,
        Self::ChangeEmail,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign-in",
            Self::EmailVerification => "email-verification",
            Self::ForgetPassword => "forget-password",
            Self::ChangeEmail => "change-email",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    fn subject(self, app: &str) -> String {
        match self {
            Self::SignIn => format!("Your sign-in code for {app}"),
            Self::EmailVerification => format!("Verify your email for {app}"),
            Self::ForgetPassword => format!("Reset your {app} password"),
            Self::ChangeEmail => format!("Confirm your new email for {app}"),
        }
    }
}

/// Better Auth's `toOTPIdentifier`.
fn identifier(purpose: OtpPurpose, subject: &str) -> String {
    format!("{}-otp-{subject}", purpose.as_str())
}

/// A checked code either stays spent or is put back for the call that follows (Better Auth's
/// `check-verification-otp` preflight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnSuccess {
    Spend,
    Keep,
}

/// What `verify-email` did: the user, and a session when `AUTO_SIGN_IN_AFTER_VERIFICATION`
/// started one.
pub struct EmailVerifiedByCode {
    pub user: user::Model,
    pub new_session: Option<AuthSession>,
}

impl IdentityService {
    /// `email-otp/send-verification-otp` (and, for `forget-password`, `email-otp/request-password-reset`
    /// and `forget-password/email-otp`): mails a code for `purpose`. An unknown address gets
    /// the same answer and no mail, except for sign-in while sign-up is open.
    ///
    /// # Errors
    /// `InvalidEmail`, `InvalidOtpType` for `change-email` (it has its own endpoint), storage
    /// failures.
    pub async fn send_email_otp(&self, email: &str, purpose: OtpPurpose) -> IdentityResult<()> {
        if purpose == OtpPurpose::ChangeEmail {
            return Err(IdentityError::InvalidOtpType);
        }
        let email = checked_address(email)?;
        let id = identifier(purpose, &email);
        let code = self.issue_code(&id).await?;
        let mail_unknown = purpose == OtpPurpose::SignIn && !self.settings.email_otp.disable_sign_up;
        match users::find_by_email(&self.db, &email).await? {
            Some(user) => self.mail_code(&user.email, &code, purpose),
            None if mail_unknown => self.mail_code(&email, &code, purpose),
            None => verifications::delete(&self.db, &id).await?,
        }
        Ok(())
    }

    /// `email-otp/check-verification-otp`: whether `code` is right, leaving it usable.
    ///
    /// # Errors
    /// `InvalidEmail`, the code's refusals, `OtpUserNotFound` (safe to say: the caller holds a
    /// valid code), storage failures.
    pub async fn check_email_otp(&self, email: &str, purpose: OtpPurpose, code: &str) -> IdentityResult<()> {
        let email = checked_address(email)?;
        self.user_proven_by(purpose, &email, code, OnSuccess::Keep)
            .await
            .map(drop)
    }

    /// `email-otp/verify-email`: marks the address verified.
    ///
    /// # Errors
    /// `InvalidEmail`, the code's refusals, `OtpUserNotFound`, storage failures.
    pub async fn verify_email_by_code(
        &self,
        email: &str,
        code: &str,
        signed_in: bool,
        client: &ClientInfo,
    ) -> IdentityResult<EmailVerifiedByCode> {
        let email = checked_address(email)?;
        let user = self
            .user_proven_by(OtpPurpose::EmailVerification, &email, code, OnSuccess::Spend)
            .await?;
        let user = users::set_email(&self.db, user, &email, true, self.now()).await?;
        self.sessions.forget_user(&user.id).await?;
        let new_session = if self.settings.auto_sign_in_after_verification && !signed_in {
            Some(
                self.sessions
                    .create(
                        &user,
                        castellan_session::Authentication::by("email-verification"),
                        client,
                        false,
                    )
                    .await?,
            )
        } else {
            None
        };
        Ok(EmailVerifiedByCode { user, new_session })
    }

    /// `sign-in/email-otp`: a session for the address's user, created on first use unless
    /// sign-up is off. An unproven account at the address loses its password and sessions.
    ///
    /// # Errors
    /// The code's refusals (also for an unknown address while sign-up is off), a ban, storage
    /// failures.
    pub async fn sign_in_by_code(
        &self,
        email: &str,
        code: &str,
        profile: NewProfile,
        client: &ClientInfo,
    ) -> IdentityResult<AuthSession> {
        let email = email.to_lowercase();
        if !castellan_domain::is_valid_email(&email) {
            return Err(IdentityError::InvalidOtp);
        }
        self.check_code(&identifier(OtpPurpose::SignIn, &email), code, OnSuccess::Spend)
            .await?;
        let sign_up = !self.settings.email_otp.disable_sign_up;
        let MailboxOwner { user, .. } = self
            .mailbox_owner(&email, profile, sign_up)
            .await?
            .ok_or(IdentityError::InvalidOtp)?;
        Ok(self
            .sessions
            .create(
                &user,
                castellan_session::Authentication::by("email-otp"),
                client,
                false,
            )
            .await?)
    }

    /// `email-otp/reset-password`: sets a new password and ends every session of the user (a
    /// reset means the old password is no longer trusted). The address counts as proven.
    ///
    /// # Errors
    /// `InvalidEmail`, password length, the code's refusals, `OtpUserNotFound`, storage failures.
    pub async fn reset_password_by_code(
        &self,
        email: &str,
        code: &str,
        password: &str,
    ) -> IdentityResult<()> {
        let email = checked_address(email)?;
        self.check_password_length(password)?;
        let user = self
            .user_proven_by(OtpPurpose::ForgetPassword, &email, code, OnSuccess::Spend)
            .await?;
        let hash = self.passwords.hash(password).await?;
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(DataError::from)?;
        match accounts::find_credential(&txn, &user.id).await? {
            Some(account) => accounts::set_password(&txn, account, hash, now).await?,
            None => accounts::insert_credential(&txn, random::generate_id(), &user.id, hash, now).await?,
        };
        if !user.email_verified {
            users::set_email(&txn, user.clone(), &email, true, now).await?;
        }
        txn.commit().await.map_err(DataError::from)?;
        self.sessions.revoke_all(&user.id, None).await?;
        Ok(())
    }

    /// `email-otp/request-email-change`: mails a code to `new_email`, unless another user has
    /// it (same answer). With `EMAIL_OTP_VERIFY_CURRENT_EMAIL`, a code sent to the current
    /// address (an `email-verification` one) must come along.
    ///
    /// # Errors
    /// `ChangeEmailDisabled`, `InvalidEmail`, `EmailIsTheSame`, `CurrentEmailOtpRequired`, the
    /// current code's refusals, storage failures.
    pub async fn request_email_change_code(
        &self,
        auth: &AuthSession,
        new_email: &str,
        current_code: Option<&str>,
    ) -> IdentityResult<()> {
        let new_email = self.email_change_target(auth, new_email)?;
        if self.settings.email_otp.verify_current_email {
            let code = current_code.ok_or(IdentityError::CurrentEmailOtpRequired)?;
            let current = auth.user.email.to_lowercase();
            self.check_code(
                &identifier(OtpPurpose::EmailVerification, &current),
                code,
                OnSuccess::Spend,
            )
            .await?;
        }
        let id = identifier(OtpPurpose::ChangeEmail, &format!("{}:{new_email}", auth.user.id));
        let code = self.issue_code(&id).await?;
        if users::find_by_email(&self.db, &new_email).await?.is_some() {
            verifications::delete(&self.db, &id).await?;
        } else {
            self.mail_code(&new_email, &code, OtpPurpose::ChangeEmail);
        }
        Ok(())
    }

    /// `email-otp/change-email`: moves the user to `new_email`, proven by its code.
    ///
    /// # Errors
    /// `ChangeEmailDisabled`, `InvalidEmail`, `EmailIsTheSame`, the code's refusals,
    /// `EmailInUse`, storage failures.
    pub async fn change_email_by_code(
        &self,
        auth: &AuthSession,
        new_email: &str,
        code: &str,
    ) -> IdentityResult<()> {
        let new_email = self.email_change_target(auth, new_email)?;
        let id = identifier(OtpPurpose::ChangeEmail, &format!("{}:{new_email}", auth.user.id));
        self.check_code(&id, code, OnSuccess::Spend).await?;
        let user = users::find_by_id(&self.db, &auth.user.id)
            .await?
            .ok_or(IdentityError::OtpUserNotFound)?;
        let updated = match users::set_email(&self.db, user, &new_email, true, self.now()).await {
            Err(DataError::Conflict) => return Err(IdentityError::EmailInUse),
            other => other?,
        };
        self.sessions.forget_user(&updated.id).await?;
        Ok(())
    }

    /// The new address of an email change, lower-cased, once the change is allowed at all.
    fn email_change_target(&self, auth: &AuthSession, new_email: &str) -> IdentityResult<String> {
        if !self.settings.email_otp.change_email {
            return Err(IdentityError::ChangeEmailDisabled);
        }
        if auth.session.impersonated_by.is_some() {
            return Err(IdentityError::ImpersonationForbidden);
        }
        let new_email = checked_address(new_email)?;
        if new_email == auth.user.email.to_lowercase() {
            return Err(IdentityError::EmailIsTheSame);
        }
        Ok(new_email)
    }

    /// A fresh code under `id`, replacing any earlier one (Better Auth's default resend
    /// strategy: a new code each time).
    async fn issue_code(&self, id: &str) -> IdentityResult<String> {
        let settings = &self.settings.email_otp;
        let code = random::random_string(settings.length, b"0123456789");
        let now = self.now();
        let expires = now + chrono::Duration::seconds(settings.expires_in_secs);
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(DataError::from)?;
        verifications::delete(&txn, id).await?;
        verifications::insert(&txn, id.to_owned(), format!("{}:0", digest(&code)), expires, now).await?;
        txn.commit().await.map_err(DataError::from)?;
        Ok(code)
    }

    /// The user at `email`, once `code` proved the mailbox for `purpose`.
    ///
    /// # Errors
    /// The code's refusals; `OtpUserNotFound` (safe to say: the caller holds a valid code).
    async fn user_proven_by(
        &self,
        purpose: OtpPurpose,
        email: &str,
        code: &str,
        on_success: OnSuccess,
    ) -> IdentityResult<user::Model> {
        self.check_code(&identifier(purpose, email), code, on_success)
            .await?;
        users::find_by_email(&self.db, email)
            .await?
            .ok_or(IdentityError::OtpUserNotFound)
    }

    /// Better Auth's `atomicVerifyOTP`.
    async fn check_code(&self, id: &str, code: &str, on_success: OnSuccess) -> IdentityResult<()> {
        let now = self.now();
        let Some(row) = verifications::take(&self.db, id).await? else {
            return Err(IdentityError::InvalidOtp);
        };
        if row.expires_at <= now {
            return Err(IdentityError::EmailOtpExpired);
        }
        let (stored, attempts) = row.value.rsplit_once(':').unwrap_or((row.value.as_str(), "0"));
        let attempts: u32 = attempts.parse().unwrap_or(u32::MAX);
        if attempts >= self.settings.email_otp.allowed_attempts {
            return Err(IdentityError::EmailOtpTooManyAttempts);
        }
        let right = bool::from(digest(code).as_bytes().ct_eq(stored.as_bytes()));
        let put_back = match (right, on_success) {
            (false, _) => Some(format!("{stored}:{}", attempts + 1)),
            (true, OnSuccess::Keep) => Some(row.value.clone()),
            (true, OnSuccess::Spend) => None,
        };
        if let Some(value) = put_back {
            verifications::insert(&self.db, id.to_owned(), value, row.expires_at, now).await?;
        }
        if right {
            Ok(())
        } else {
            Err(IdentityError::InvalidOtp)
        }
    }

    fn mail_code(&self, to: &str, code: &str, purpose: OtpPurpose) {
        let mut extra = Map::new();
        extra.insert("otp".into(), code.into());
        extra.insert("type".into(), purpose.as_str().into());
        let minutes = (self.settings.email_otp.expires_in_secs + 59) / 60;
        self.send_mail(Mail {
            kind: "email-otp".into(),
            to: to.to_owned(),
            subject: purpose.subject(&self.settings.app_name),
            text: format!("Your code is {code}. It works once, for {minutes} minutes.\n"),
            url: None,
            token: None,
            extra,
        });
    }
}

/// Better Auth's `hashed` storage: SHA-256, base64url without padding.
fn digest(code: &str) -> String {
    signing::sha256_b64url(code.as_bytes())
}

/// The address lower-cased, or Better Auth's `INVALID_EMAIL`.
fn checked_address(email: &str) -> IdentityResult<String> {
    let email = email.to_lowercase();
    if castellan_domain::is_valid_email(&email) {
        Ok(email)
    } else {
        Err(IdentityError::InvalidEmail)
    }
}
