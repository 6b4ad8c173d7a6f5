//! Sign-up, sign-in, passwords and profile.

use castellan_crypto::PasswordCheck;
use castellan_crypto::random;
use castellan_data::DataError;
use castellan_data::entity::user;
use castellan_data::repo::{accounts, sso_providers, users};
use castellan_session::{AuthSession, ClientInfo};

use super::IdentityService;
use crate::error::{IdentityError, IdentityResult};

pub struct SignUp {
    pub name: String,
    pub email: String,
    pub password: String,
    pub image: Option<String>,
    pub remember: bool,
    pub callback_url: Option<String>,
}

/// Which password sign-in: the ordinary one, or an owner's break-glass sign-in past their
/// organization's SSO requirement (`POST /sign-in/break-glass`, audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMode {
    Password,
    BreakGlass,
}

impl SignInMode {
    /// The session's authentication method.
    #[must_use]
    pub fn method(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::BreakGlass => castellan_authz::sso::BREAK_GLASS_METHOD,
        }
    }
}

/// What a correct password leads to.
pub enum SignInOutcome {
    /// Signed in; a rotated trusted-device cookie value when one vouched for the device.
    Session {
        auth: Box<AuthSession>,
        trust_cookie: Option<String>,
    },
    /// Two-factor is on: the challenge id to set in the `two_factor` cookie.
    SecondFactor { challenge: String },
    /// The address is in a verified domain of an organization that requires SSO: no password
    /// is checked, the browser goes to this connection instead.
    Sso { provider_id: String },
}

/// A new or returning user, with a session unless sign-in must wait for email verification.
pub struct SignedUp {
    pub user: user::Model,
    pub session: Option<AuthSession>,
}

impl IdentityService {
    /// Creates the user and its credential account in one transaction, sends the verification
    /// mail if configured, and signs the user in.
    ///
    /// # Errors
    /// Password length, a taken email, storage failures.
    pub async fn sign_up(&self, req: SignUp, client: &ClientInfo) -> IdentityResult<SignedUp> {
        self.check_password_length(&req.password)?;
        let email = req.email.to_lowercase();
        let is_admin = self.settings.admin_emails.contains(&email);
        if users::find_by_email(&self.db, &email).await?.is_some() {
            return Err(IdentityError::UserAlreadyExists);
        }
        let hash = self.passwords.hash(&req.password).await?;
        let now = self.now();
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(DataError::from)?;
        let new_user = users::NewUser {
            id: random::generate_id(),
            name: req.name,
            email,
            image: req.image,
            email_verified: false,
            role: Some(if is_admin { "admin" } else { "user" }.to_owned()),
        };
        let user = match users::insert(&txn, new_user, now).await {
            Err(DataError::Conflict) => return Err(IdentityError::UserAlreadyExists),
            other => other?,
        };
        accounts::insert_credential(&txn, random::generate_id(), &user.id, hash, now).await?;
        txn.commit().await.map_err(DataError::from)?;

        if self.settings.send_verification_on_sign_up || self.settings.require_email_verification {
            self.send_verification_mail(&user, req.callback_url.as_deref(), None);
        }
        if self.settings.require_email_verification {
            return Ok(SignedUp { user, session: None });
        }
        let session = self
            .sessions
            .create(
                &user,
                castellan_session::Authentication::by("password"),
                client,
                !req.remember,
            )
            .await?;
        Ok(SignedUp {
            user,
            session: Some(session),
        })
    }

    /// Checks email and password. Unknown emails and missing credential accounts cost one
    /// password verification, like a wrong password, and give the same error. An address under
    /// an SSO requirement is sent to its connection before any password is checked (so the
    /// answer says nothing about the account); a break-glass sign-in skips that, and is then
    /// allowed only to an owner of an organization requiring SSO.
    ///
    /// # Errors
    /// `InvalidEmailOrPassword`, `EmailNotVerified`, `BreakGlassRefused`, a ban, storage
    /// failures.
    pub async fn sign_in(
        &self,
        mode: SignInMode,
        email: &str,
        password: &str,
        remember: bool,
        trust_cookie: Option<&str>,
        client: &ClientInfo,
    ) -> IdentityResult<SignInOutcome> {
        if !castellan_domain::is_valid_email(email) {
            return Err(IdentityError::InvalidEmail);
        }
        if mode == SignInMode::Password
            && let Some(connection) = sso_providers::enforced_for_email(&self.db, email).await?
        {
            return Ok(SignInOutcome::Sso {
                provider_id: connection.provider_id,
            });
        }
        let Some(user) = users::find_by_email(&self.db, email).await? else {
            self.passwords.burn(password).await?;
            return Err(IdentityError::InvalidEmailOrPassword);
        };
        let account = accounts::find_credential(&self.db, &user.id).await?;
        let Some((account, stored)) = account.and_then(|a| a.password.clone().map(|p| (a, p))) else {
            self.passwords.burn(password).await?;
            return Err(IdentityError::InvalidEmailOrPassword);
        };
        let check = self.passwords.verify(password, &stored).await?;
        if !check.is_match() {
            return Err(IdentityError::InvalidEmailOrPassword);
        }
        if check == PasswordCheck::MatchNeedsRehash {
            // Better Auth's scrypt (or weaker argon2) hash: store argon2id now that we know the password.
            let upgraded = self.passwords.hash(password).await?;
            accounts::set_password(&self.db, account, upgraded, self.now()).await?;
        }
        if self.settings.require_email_verification && !user.email_verified {
            return Err(IdentityError::EmailNotVerified);
        }
        if mode == SignInMode::BreakGlass {
            self.admit_break_glass(&user, client).await?;
        }
        if user.two_factor_enabled == Some(true) {
            if self.sessions.is_banned(&user) {
                return Err(castellan_session::SessionError::Banned.into());
            }
            let trusted = match trust_cookie {
                Some(cookie) => self.trusted_device(&user.id, cookie).await?,
                None => None,
            };
            if trusted.is_none() {
                return Ok(SignInOutcome::SecondFactor {
                    challenge: self.start_challenge(&user, mode).await?,
                });
            }
            // The trusted device stands in for the second factor.
            let how = castellan_session::Authentication::by(mode.method()).and("trusted-device");
            let auth = self.sessions.create(&user, how, client, !remember).await?;
            return Ok(SignInOutcome::Session {
                auth: Box::new(auth),
                trust_cookie: trusted,
            });
        }
        let auth = self
            .sessions
            .create(
                &user,
                castellan_session::Authentication::by(mode.method()),
                client,
                !remember,
            )
            .await?;
        Ok(SignInOutcome::Session {
            auth: Box::new(auth),
            trust_cookie: None,
        })
    }

    /// A break-glass sign-in is for owners of organizations that require SSO, when the IdP
    /// cannot be used: it is recorded in the audit log of each such organization they own.
    ///
    /// # Errors
    /// `BreakGlassRefused` for anyone else.
    async fn admit_break_glass(&self, user: &user::Model, client: &ClientInfo) -> IdentityResult<()> {
        let mut owned = Vec::new();
        for org in castellan_authz::repo::organizations_of(&self.db, &user.id)
            .await
            .map_err(DataError::from)?
        {
            if self.authz.requires_sso(&org.id).await?
                && self
                    .authz
                    .scope(&self.db, &org.id, &user.id)
                    .await?
                    .is_some_and(|scope| scope.is_creator())
            {
                owned.push(org.id);
            }
        }
        if owned.is_empty() {
            return Err(IdentityError::BreakGlassRefused);
        }
        let txn = castellan_data::begin_write(&self.db)
            .await
            .map_err(DataError::from)?;
        for org_id in owned {
            let event = castellan_audit::AuditEvent {
                organization_id: org_id,
                action: "sso.break_glass",
                actor_id: Some(user.id.clone()),
                target_type: Some("user"),
                target_id: Some(user.id.clone()),
                details: serde_json::json!({ "method": "password" }),
                ip_address: Some(client.ip_address.clone()).filter(|s| !s.is_empty()),
                user_agent: Some(client.user_agent.clone()).filter(|s| !s.is_empty()),
            };
            castellan_audit::record(&txn, event, self.now()).await?;
        }
        txn.commit().await.map_err(DataError::from)?;
        Ok(())
    }

    /// Verifies the current password, stores the new one, and optionally ends every other
    /// session by replacing them all with a new one for the caller.
    ///
    /// # Errors
    /// Password length, `CredentialAccountNotFound`, `InvalidPassword`, storage failures.
    pub async fn change_password(
        &self,
        auth: &AuthSession,
        current: &str,
        new: &str,
        revoke_other_sessions: bool,
        client: &ClientInfo,
    ) -> IdentityResult<Option<AuthSession>> {
        if auth.session.impersonated_by.is_some() {
            return Err(IdentityError::ImpersonationForbidden);
        }
        self.check_password_length(new)?;
        let account = accounts::find_credential(&self.db, &auth.user.id)
            .await?
            .ok_or(IdentityError::CredentialAccountNotFound)?;
        let stored = account
            .password
            .clone()
            .ok_or(IdentityError::CredentialAccountNotFound)?;
        if !self.passwords.verify(current, &stored).await?.is_match() {
            return Err(IdentityError::InvalidPassword);
        }
        let hash = self.passwords.hash(new).await?;
        accounts::set_password(&self.db, account, hash, self.now()).await?;
        if !revoke_other_sessions {
            return Ok(None);
        }
        self.sessions.revoke_all(&auth.user.id, None).await?;
        let how = castellan_session::Authentication::of(&auth.session);
        Ok(Some(self.sessions.create(&auth.user, how, client, false).await?))
    }

    /// Server-side only (Better Auth's `setPassword`): gives a password to a user who has none,
    /// such as one who signed up through SSO.
    ///
    /// # Errors
    /// Password length, `PasswordAlreadySet`, storage failures.
    pub async fn set_password(&self, user_id: &str, new: &str) -> IdentityResult<()> {
        self.check_password_length(new)?;
        let existing = accounts::find_credential(&self.db, user_id).await?;
        if existing.as_ref().is_some_and(|a| a.password.is_some()) {
            return Err(IdentityError::PasswordAlreadySet);
        }
        let hash = self.passwords.hash(new).await?;
        let now = self.now();
        match existing {
            Some(account) => accounts::set_password(&self.db, account, hash, now).await?,
            None => accounts::insert_credential(&self.db, random::generate_id(), user_id, hash, now).await?,
        };
        Ok(())
    }

    /// # Errors
    /// `InvalidPassword` when wrong, empty, or the user has no password.
    pub async fn verify_password(&self, user_id: &str, password: &str) -> IdentityResult<()> {
        let stored = accounts::find_credential(&self.db, user_id)
            .await?
            .and_then(|a| a.password);
        let Some(stored) = stored.filter(|_| !password.is_empty()) else {
            self.passwords.burn(password).await?;
            return Err(IdentityError::InvalidPassword);
        };
        if self.passwords.verify(password, &stored).await?.is_match() {
            Ok(())
        } else {
            Err(IdentityError::InvalidPassword)
        }
    }

    /// # Errors
    /// Storage failures.
    pub async fn update_profile(
        &self,
        auth: &AuthSession,
        change: users::ProfileChange,
    ) -> IdentityResult<user::Model> {
        let user = users::update_profile(&self.db, auth.user.clone(), change, self.now()).await?;
        self.sessions.forget_user(&user.id).await?;
        Ok(user)
    }
}
