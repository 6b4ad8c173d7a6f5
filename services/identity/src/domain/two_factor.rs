//! Two-factor authentication (Better Auth's two-factor plugin): TOTP enrolment, sign-in
//! challenges, backup codes, one-time codes by mail, and trusted devices. The TOTP secret and the
//! backup codes are stored as Better Auth stores them (encrypted with the secret), so a Better
//! Auth database's enrolled users keep working.

use castellan_crypto::{random, signing, totp};
use castellan_data::entity::{two_factor, user};
use castellan_data::repo::{users, verifications};
use castellan_mail::Mail;
use castellan_session::{AuthSession, Authentication, ClientInfo};
use chrono::TimeDelta;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Map;

use super::IdentityService;
use crate::error::{IdentityError, IdentityResult};

const CHALLENGE_TTL: TimeDelta = TimeDelta::minutes(10);
const OTP_TTL: TimeDelta = TimeDelta::minutes(3);
const TRUST_TTL: TimeDelta = TimeDelta::days(30);
const MAX_ATTEMPTS: u32 = 5;
/// Marks a challenge that follows a break-glass sign-in (`2fa-bg-...`).
const BREAK_GLASS_CHALLENGE: &str = "bg-";
/// Better Auth's account lockout: this many wrong codes in a row lock two-factor for a while.
const LOCKOUT_AFTER: i32 = 10;
const LOCKOUT: TimeDelta = TimeDelta::minutes(15);
const BACKUP_CODES: usize = 10;

pub struct Enrolment {
    pub totp_uri: String,
    pub backup_codes: Vec<String>,
}

/// Who is proving a second factor: a signed-in user (enrolment or re-verification), or someone
/// half-way through a sign-in, holding the `two_factor` challenge cookie.
pub enum Proof<'a> {
    Session(&'a AuthSession),
    Challenge { id: &'a str, dont_remember: bool },
}

/// A passed second factor: the session to use, and a new trust cookie value if asked for.
pub struct Passed {
    pub session: AuthSession,
    /// The session is new: its cookie must be set.
    pub rotated: bool,
    /// The new session is a "don't remember me" one.
    pub dont_remember: bool,
    pub trust_cookie: Option<String>,
}

fn backup_codes() -> Vec<String> {
    (0..BACKUP_CODES)
        .map(|_| format!("{}-{}", random::alphanumeric(5), random::alphanumeric(5)))
        .collect()
}

impl IdentityService {
    async fn enrolment(&self, user_id: &str) -> IdentityResult<Option<two_factor::Model>> {
        Ok(two_factor::Entity::find()
            .filter(two_factor::Column::UserId.eq(user_id))
            .one(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?)
    }

    fn open(&self, sealed: &str) -> IdentityResult<String> {
        self.settings
            .secrets
            .decrypt(sealed)
            .map_err(|_| IdentityError::InvalidCode)
    }

    fn seal(&self, plain: &str) -> IdentityResult<String> {
        self.settings
            .secrets
            .encrypt(plain)
            .map_err(|_| IdentityError::InvalidCode)
    }

    fn refuse_impersonation(auth: &AuthSession) -> IdentityResult<()> {
        if auth.session.impersonated_by.is_some() {
            Err(IdentityError::ImpersonationForbidden)
        } else {
            Ok(())
        }
    }

    /// `two-factor/enable`: a new secret and backup codes; two-factor is on once a code is verified.
    ///
    /// # Errors
    /// A wrong password; impersonation.
    pub async fn enable_two_factor(
        &self,
        auth: &AuthSession,
        password: &str,
        issuer: Option<&str>,
    ) -> IdentityResult<Enrolment> {
        Self::refuse_impersonation(auth)?;
        self.verify_password(&auth.user.id, password).await?;
        let secret = totp::generate_secret();
        let codes = backup_codes();
        let sealed_codes = self.seal(&serde_json::to_string(&codes).unwrap_or_default())?;
        let sealed_secret = self.seal(&secret)?;
        let db_err = castellan_data::DataError::from;
        match self.enrolment(&auth.user.id).await? {
            Some(existing) => {
                let verified =
                    existing.verified.unwrap_or(true) && auth.user.two_factor_enabled == Some(true);
                let mut row: two_factor::ActiveModel = existing.into();
                row.secret = Set(sealed_secret);
                row.backup_codes = Set(sealed_codes);
                row.verified = Set(Some(verified));
                row.update(&self.db).await.map_err(db_err)?;
            }
            None => {
                let row = two_factor::ActiveModel {
                    id: Set(random::generate_id()),
                    secret: Set(sealed_secret),
                    backup_codes: Set(sealed_codes),
                    user_id: Set(auth.user.id.clone()),
                    verified: Set(Some(false)),
                    failed_verification_count: Set(Some(0)),
                    locked_until: Set(None),
                };
                row.insert(&self.db).await.map_err(db_err)?;
            }
        }
        let issuer = issuer.unwrap_or(&self.settings.app_name);
        Ok(Enrolment {
            totp_uri: totp::uri(&secret, issuer, &auth.user.email),
            backup_codes: codes,
        })
    }

    /// # Errors
    /// A wrong password, no enrolment.
    pub async fn totp_uri(&self, auth: &AuthSession, password: &str) -> IdentityResult<String> {
        self.verify_password(&auth.user.id, password).await?;
        let row = self
            .enrolment(&auth.user.id)
            .await?
            .ok_or(IdentityError::TotpNotEnabled)?;
        Ok(totp::uri(
            &self.open(&row.secret)?,
            &self.settings.app_name,
            &auth.user.email,
        ))
    }

    /// `two-factor/disable`.
    ///
    /// # Errors
    /// A wrong password; impersonation.
    pub async fn disable_two_factor(&self, auth: &AuthSession, password: &str) -> IdentityResult<()> {
        Self::refuse_impersonation(auth)?;
        self.verify_password(&auth.user.id, password).await?;
        two_factor::Entity::delete_many()
            .filter(two_factor::Column::UserId.eq(&auth.user.id))
            .exec(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        users::set_two_factor(&self.db, auth.user.clone(), false, self.now()).await?;
        self.sessions.forget_user(&auth.user.id).await?;
        Ok(())
    }

    /// `generate-backup-codes`: replaces the backup codes.
    ///
    /// # Errors
    /// A wrong password, two-factor off.
    pub async fn regenerate_backup_codes(
        &self,
        auth: &AuthSession,
        password: &str,
    ) -> IdentityResult<Vec<String>> {
        Self::refuse_impersonation(auth)?;
        self.verify_password(&auth.user.id, password).await?;
        if auth.user.two_factor_enabled != Some(true) {
            return Err(IdentityError::TwoFactorNotEnabled);
        }
        let row = self
            .enrolment(&auth.user.id)
            .await?
            .ok_or(IdentityError::TwoFactorNotEnabled)?;
        let codes = backup_codes();
        let mut active: two_factor::ActiveModel = row.into();
        active.backup_codes = Set(self.seal(&serde_json::to_string(&codes).unwrap_or_default())?);
        active
            .update(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        Ok(codes)
    }

    /// Starts a sign-in challenge for a user with two-factor on; returns its id (the value of the
    /// `two_factor` cookie).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn start_challenge(
        &self,
        user: &user::Model,
        mode: super::accounts::SignInMode,
    ) -> IdentityResult<String> {
        // The id says which sign-in the challenge follows, for the session it leads to.
        let kind = match mode {
            super::accounts::SignInMode::Password => "",
            super::accounts::SignInMode::BreakGlass => BREAK_GLASS_CHALLENGE,
        };
        let id = format!("2fa-{kind}{}", random::alphanumeric(20));
        let now = self.now();
        verifications::insert(
            &self.db,
            id.clone(),
            format!("{}:0", user.id),
            now + CHALLENGE_TTL,
            now,
        )
        .await?;
        Ok(id)
    }

    /// The user a proof is about; counts a challenge attempt.
    async fn prover(&self, proof: &Proof<'_>) -> IdentityResult<user::Model> {
        match proof {
            Proof::Session(auth) => Ok(auth.user.clone()),
            Proof::Challenge { id, .. } => {
                let row = verifications::peek(&self.db, id, self.now())
                    .await?
                    .ok_or(IdentityError::InvalidTwoFactorCookie)?;
                let (user_id, attempts) = row
                    .value
                    .split_once(':')
                    .ok_or(IdentityError::InvalidTwoFactorCookie)?;
                let attempts: u32 = attempts.parse().unwrap_or(MAX_ATTEMPTS);
                if attempts >= MAX_ATTEMPTS {
                    return Err(IdentityError::TooManyAttempts);
                }
                let user_id = user_id.to_owned();
                let mut active: castellan_data::entity::verification::ActiveModel = row.into();
                active.value = Set(format!("{user_id}:{}", attempts + 1));
                active
                    .update(&self.db)
                    .await
                    .map_err(castellan_data::DataError::from)?;
                users::find_by_id(&self.db, &user_id)
                    .await?
                    .ok_or(IdentityError::InvalidTwoFactorCookie)
            }
        }
    }

    /// After a correct code (`factor`: `totp`, `otp`, `backup-code`): enrolment completes, or the
    /// challenged sign-in gets its session.
    async fn pass(
        &self,
        proof: Proof<'_>,
        user: user::Model,
        factor: &str,
        trust: bool,
        client: &ClientInfo,
    ) -> IdentityResult<Passed> {
        match proof {
            Proof::Session(auth) => {
                let mut rotated = false;
                let mut session = auth.clone();
                if let Some(row) = self.enrolment(&user.id).await?
                    && (row.verified != Some(true) || user.two_factor_enabled != Some(true))
                {
                    let mut active: two_factor::ActiveModel = row.into();
                    active.verified = Set(Some(true));
                    active
                        .update(&self.db)
                        .await
                        .map_err(castellan_data::DataError::from)?;
                    let updated = users::set_two_factor(&self.db, user, true, self.now()).await?;
                    // The user's other sessions carry `twoFactorEnabled`.
                    self.sessions.forget_user(&updated.id).await?;
                    // Enabling a factor replaces the session, as Better Auth does.
                    self.sessions.revoke(&auth.session.token).await?;
                    let how = Authentication::of(&auth.session).and(factor);
                    session = self.sessions.create(&updated, how, client, false).await?;
                    rotated = true;
                }
                Ok(Passed {
                    session,
                    rotated,
                    dont_remember: false,
                    trust_cookie: None,
                })
            }
            Proof::Challenge { id, dont_remember } => {
                if verifications::consume(&self.db, id, self.now()).await?.is_none() {
                    return Err(IdentityError::InvalidTwoFactorCookie);
                }
                // A challenge only follows a password (or break-glass) sign-in.
                let first = if id.starts_with(&format!("2fa-{BREAK_GLASS_CHALLENGE}")) {
                    super::accounts::SignInMode::BreakGlass
                } else {
                    super::accounts::SignInMode::Password
                };
                let how = Authentication::by(first.method()).and(factor);
                let session = self.sessions.create(&user, how, client, dont_remember).await?;
                let trust_cookie = if trust {
                    Some(self.trust_device(&user.id).await?)
                } else {
                    None
                };
                Ok(Passed {
                    session,
                    rotated: true,
                    dont_remember,
                    trust_cookie,
                })
            }
        }
    }

    /// Refuses while locked out; afterwards records the outcome of one code.
    async fn guard_lockout(&self, row: &two_factor::Model) -> IdentityResult<()> {
        if row.locked_until.is_some_and(|until| until > self.now()) {
            return Err(IdentityError::TwoFactorLocked);
        }
        Ok(())
    }

    async fn record_attempt(&self, row: two_factor::Model, success: bool) -> IdentityResult<()> {
        let failures = if success {
            0
        } else {
            row.failed_verification_count.unwrap_or(0) + 1
        };
        let locked = (failures >= LOCKOUT_AFTER).then(|| self.now() + LOCKOUT);
        let mut active: two_factor::ActiveModel = row.into();
        active.failed_verification_count = Set(Some(if locked.is_some() { 0 } else { failures }));
        active.locked_until = Set(locked);
        active
            .update(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        Ok(())
    }

    /// `verify-totp`.
    ///
    /// # Errors
    /// No enrolment, a wrong code, a bad or exhausted challenge.
    pub async fn verify_totp(
        &self,
        proof: Proof<'_>,
        code: &str,
        trust: bool,
        client: &ClientInfo,
    ) -> IdentityResult<Passed> {
        let user = self.prover(&proof).await?;
        let row = self
            .enrolment(&user.id)
            .await?
            .ok_or(IdentityError::TotpNotEnabled)?;
        self.guard_lockout(&row).await?;
        let step = totp::verify(&self.open(&row.secret)?, code, self.now().timestamp());
        // The code that turns two-factor on counts apart from the codes that sign in: Better
        // Auth's clients sign in with the very code they just enrolled with.
        let ceremony = if row.verified == Some(true) && user.two_factor_enabled == Some(true) {
            "verify"
        } else {
            "enrol"
        };
        let ok = match step {
            Some(step) => self.first_use_of_step(&user.id, ceremony, step).await?,
            None => false,
        };
        self.record_attempt(row, ok).await?;
        if !ok {
            return Err(IdentityError::InvalidCode);
        }
        self.pass(proof, user, "totp", trust, client).await
    }

    /// Whether this is the first time `user_id` presents the code of time `step` for
    /// `ceremony` (RFC 6238 §5.2, beyond Better Auth): a code seen over someone's shoulder or
    /// replayed from a log cannot be used again while it is still valid, on any replica.
    ///
    /// # Errors
    /// The shared cache unreachable: refused rather than let a replay through.
    async fn first_use_of_step(&self, user_id: &str, ceremony: &str, step: u64) -> IdentityResult<bool> {
        let key = format!("totp-used:{ceremony}:{user_id}:{step}");
        let window = std::time::Duration::from_secs(totp::ACCEPTANCE_WINDOW_SECS);
        let seen = self
            .sessions
            .cache()
            .hit(&key, window, 1)
            .await
            .map_err(castellan_session::SessionError::from)?;
        Ok(seen.allowed)
    }

    /// `verify-backup-code`: each code works once.
    ///
    /// # Errors
    /// Two-factor off, a wrong code, a bad challenge.
    pub async fn verify_backup_code(
        &self,
        proof: Proof<'_>,
        code: &str,
        trust: bool,
        client: &ClientInfo,
    ) -> IdentityResult<Passed> {
        let user = self.prover(&proof).await?;
        let row = self
            .enrolment(&user.id)
            .await?
            .ok_or(IdentityError::TwoFactorNotEnabled)?;
        self.guard_lockout(&row).await?;
        let mut codes: Vec<String> = serde_json::from_str(&self.open(&row.backup_codes)?).unwrap_or_default();
        let Some(pos) = codes.iter().position(|c| c == code.trim()) else {
            self.record_attempt(row.clone(), false).await?;
            return Err(IdentityError::InvalidBackupCode);
        };
        codes.remove(pos);
        let previous = row.backup_codes.clone();
        let sealed = self.seal(&serde_json::to_string(&codes).unwrap_or_default())?;
        // Compare-and-swap on the stored blob: of two concurrent uses of one code, one wins.
        let res = two_factor::Entity::update_many()
            .col_expr(
                two_factor::Column::BackupCodes,
                sea_orm::sea_query::Expr::value(sealed),
            )
            .filter(two_factor::Column::Id.eq(&row.id))
            .filter(two_factor::Column::BackupCodes.eq(previous))
            .exec(&self.db)
            .await
            .map_err(castellan_data::DataError::from)?;
        if res.rows_affected != 1 {
            return Err(IdentityError::InvalidBackupCode);
        }
        self.pass(proof, user, "backup-code", trust, client).await
    }

    fn otp_key(proof: &Proof<'_>) -> String {
        match proof {
            Proof::Session(auth) => format!("2fa-otp-{}!{}", auth.user.id, auth.session.id),
            Proof::Challenge { id, .. } => format!("2fa-otp-{id}"),
        }
    }

    /// `send-otp`: mails a six-digit code.
    ///
    /// # Errors
    /// Two-factor off, a bad challenge.
    pub async fn send_otp(&self, proof: Proof<'_>) -> IdentityResult<()> {
        let user = match &proof {
            Proof::Session(auth) => auth.user.clone(),
            Proof::Challenge { id, .. } => {
                let row = verifications::peek(&self.db, id, self.now())
                    .await?
                    .ok_or(IdentityError::InvalidTwoFactorCookie)?;
                let user_id = row
                    .value
                    .split_once(':')
                    .map(|(u, _)| u.to_owned())
                    .unwrap_or_default();
                users::find_by_id(&self.db, &user_id)
                    .await?
                    .ok_or(IdentityError::InvalidTwoFactorCookie)?
            }
        };
        if user.two_factor_enabled != Some(true) {
            return Err(IdentityError::TwoFactorNotEnabled);
        }
        let mut digits = [0u8; 6];
        random::fill(&mut digits);
        let otp: String = digits.iter().map(|d| char::from(b'0' + d % 10)).collect();
        let now = self.now();
        let key = Self::otp_key(&proof);
        verifications::consume(&self.db, &key, now).await?;
        verifications::insert(&self.db, key, format!("{otp}:0"), now + OTP_TTL, now).await?;
        let mut extra = Map::new();
        extra.insert("otp".into(), otp.clone().into());
        self.send_mail(Mail {
            kind: "two-factor-otp".into(),
            to: user.email.clone(),
            subject: "Your verification code".to_owned(),
            text: format!("Your verification code is {otp}\n"),
            url: None,
            token: None,
            extra,
        });
        Ok(())
    }

    /// `verify-otp`.
    ///
    /// # Errors
    /// No or expired code, a wrong code, too many attempts.
    pub async fn verify_otp(
        &self,
        proof: Proof<'_>,
        code: &str,
        trust: bool,
        client: &ClientInfo,
    ) -> IdentityResult<Passed> {
        let key = Self::otp_key(&proof);
        let row = verifications::peek(&self.db, &key, self.now())
            .await?
            .ok_or(IdentityError::OtpExpired)?;
        let (otp, attempts) = row.value.split_once(':').unwrap_or(("", "0"));
        let attempts: u32 = attempts.parse().unwrap_or(MAX_ATTEMPTS);
        if attempts >= MAX_ATTEMPTS {
            return Err(IdentityError::TooManyAttempts);
        }
        if !bool::from(subtle_eq(otp, code.trim())) {
            let otp = otp.to_owned();
            let mut active: castellan_data::entity::verification::ActiveModel = row.into();
            active.value = Set(format!("{otp}:{}", attempts + 1));
            active
                .update(&self.db)
                .await
                .map_err(castellan_data::DataError::from)?;
            return Err(IdentityError::InvalidCode);
        }
        verifications::consume(&self.db, &key, self.now()).await?;
        let user = self.prover(&proof).await?;
        self.pass(proof, user, "otp", trust, client).await
    }

    /// A new trusted-device cookie value (`<mac>!<trustId>`) and its row.
    async fn trust_device(&self, user_id: &str) -> IdentityResult<String> {
        let trust_id = format!("trust-device-{}", random::alphanumeric(32));
        let now = self.now();
        verifications::insert(
            &self.db,
            trust_id.clone(),
            user_id.to_owned(),
            now + TRUST_TTL,
            now,
        )
        .await?;
        let mac = signing::hmac_b64url(&self.settings.secret, format!("{user_id}!{trust_id}").as_bytes());
        Ok(format!("{mac}!{trust_id}"))
    }

    /// Whether a trust cookie vouches for `user_id`; if so it is rotated and the new value returned.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn trusted_device(&self, user_id: &str, cookie: &str) -> IdentityResult<Option<String>> {
        let Some((mac, trust_id)) = cookie.split_once('!') else {
            return Ok(None);
        };
        let message = format!("{user_id}!{trust_id}");
        let vouched = self
            .settings
            .secrets
            .verification_keys()
            .any(|key| bool::from(subtle_eq(mac, &signing::hmac_b64url(key, message.as_bytes()))));
        if !vouched {
            return Ok(None);
        }
        match verifications::consume(&self.db, trust_id, self.now()).await? {
            Some(row) if row.value == user_id => Ok(Some(self.trust_device(user_id).await?)),
            _ => Ok(None),
        }
    }
}

fn subtle_eq(a: &str, b: &str) -> subtle::Choice {
    use subtle::ConstantTimeEq as _;
    a.as_bytes().ct_eq(b.as_bytes())
}
