//! The identity service's domain errors and their one mapping to Better Auth's HTTP answers.

use actix_web::http::StatusCode;
use castellan_data::DataError;
use castellan_http::ApiError;
use castellan_session::{HashingError, SessionError};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid email or password")]
    InvalidEmailOrPassword,
    #[error("invalid email")]
    InvalidEmail,
    #[error("the email is taken")]
    UserAlreadyExists,
    #[error("password too short")]
    PasswordTooShort,
    #[error("password too long")]
    PasswordTooLong,
    #[error("wrong current password")]
    InvalidPassword,
    #[error("email not verified")]
    EmailNotVerified,
    #[error("email cannot be changed through update-user")]
    EmailCannotBeUpdated,
    #[error("no fields to update")]
    NoFieldsToUpdate,
    #[error("{0} may not be set by the client")]
    FieldNotAllowed(String),
    #[error("no credential account")]
    CredentialAccountNotFound,
    #[error("user already has a password")]
    PasswordAlreadySet,
    #[error("invalid or expired password-reset token")]
    InvalidResetToken,
    #[error("invalid verification token")]
    InvalidVerificationToken,
    #[error("expired verification token")]
    VerificationTokenExpired,
    #[error("invalid account-deletion token")]
    InvalidDeletionToken,
    #[error("user not found")]
    UserNotFound,
    #[error("email mismatch")]
    EmailMismatch,
    #[error("email already verified")]
    EmailAlreadyVerified,
    #[error("the new email is the current one")]
    EmailIsTheSame,
    #[error("session too old for this action")]
    SessionExpired,
    #[error("session not fresh")]
    SessionNotFresh,
    #[error("session vanished during refresh")]
    SessionGone,
    #[error("not signed in")]
    Unauthorized,
    /// The admin plugin's answer to a missing session: 401 with an empty body.
    #[error("admin endpoint without a session")]
    AdminUnauthenticated,
    #[error("admin action refused: {0}")]
    AdminDenied(&'static str),
    #[error("admin request invalid: {0}")]
    AdminInvalid(&'static str),
    #[error("no such user")]
    AdminUserNotFound,
    #[error("not impersonating")]
    NotImpersonating,
    #[error("not allowed while impersonating")]
    ImpersonationForbidden,
    #[error("impersonation needs a reason")]
    ReasonRequired,
    #[error("two-factor is not enabled")]
    TwoFactorNotEnabled,
    #[error("no TOTP enrolment")]
    TotpNotEnabled,
    #[error("the organization requires SSO")]
    SsoRequired,
    #[error("break-glass sign-in is only for owners of organizations that require SSO")]
    BreakGlassRefused,
    #[error("no passkey ceremony for this browser (missing, spent or expired)")]
    ChallengeNotFound,
    #[error("the passkey ceremony was begun by someone else")]
    PasskeyNotAllowed,
    #[error("the authenticator's registration did not verify")]
    PasskeyRegistrationFailed,
    #[error("the authenticator is already registered")]
    PasskeyPreviouslyRegistered,
    #[error("no such passkey")]
    PasskeyNotFound,
    #[error("the assertion names no registered passkey")]
    UnknownPasskey,
    #[error("the passkey's signature or counter did not verify")]
    PasskeyAuthenticationFailed,
    #[error("the assertion does not answer the challenge")]
    PasskeyAssertionRefused,
    #[error("a passkey ceremony without an origin")]
    PasskeyOriginMissing,
    #[error("wrong code")]
    InvalidCode,
    #[error("wrong backup code")]
    InvalidBackupCode,
    #[error("no valid two-factor challenge")]
    InvalidTwoFactorCookie,
    #[error("too many attempts on this challenge")]
    TooManyAttempts,
    #[error("the one-time code expired")]
    OtpExpired,
    #[error("too many wrong codes; locked for a while")]
    TwoFactorLocked,
    #[error("{0} can only be set by the server")]
    ServerOnlyProperty(&'static str),
    #[error("api key request invalid: {0}")]
    KeyInvalid(&'static str),
    #[error("no such api key")]
    KeyNotFound,
    #[error("POST get-session without deferSessionRefresh")]
    DeferredRefreshRequired,
    #[error("account deletion without a session")]
    NoUserToDelete,
    #[error("a password in update-user's data")]
    PasswordViaUpdateUser,
    #[error("update-user with nothing to change")]
    NoDataToUpdate,
    #[error("no such social provider")]
    ProviderNotFound,
    #[error("no generic OAuth provider {0}")]
    GenericProviderNotFound(String),
    #[error("additionalParams may not set {0}")]
    ReservedParameter(String),
    #[error("the provider could not be used: {0}")]
    ProviderUnavailable(String),
    #[error("the provider offers no ID-token sign-in")]
    IdTokenNotSupported,
    #[error("the ID token failed verification")]
    InvalidToken,
    #[error("the provider gave no usable user info")]
    FailedToGetUserInfo,
    #[error("the provider gave no email address")]
    UserEmailNotFound,
    #[error("account linking refused: {0}")]
    LinkRefused(String),
    #[error("the identity is linked to another user")]
    SocialAccountAlreadyLinked,
    #[error("sign-up through this provider is disabled")]
    SignUpDisabled,
    #[error("no such account")]
    AccountNotFound,
    #[error("the last account cannot be unlinked")]
    LastAccount,
    #[error("provider {0} is not configured")]
    ProviderNotSupported(String),
    #[error("the account has no refresh token")]
    RefreshTokenNotFound,
    #[error("the provider refused to refresh the token")]
    FailedToRefreshAccessToken,
    #[error("no valid access token")]
    FailedToGetAccessToken,
    #[error("the OTP type has its own endpoint")]
    InvalidOtpType,
    #[error("wrong, spent or unknown email code")]
    InvalidOtp,
    #[error("the email code expired")]
    EmailOtpExpired,
    #[error("too many wrong guesses at this email code")]
    EmailOtpTooManyAttempts,
    #[error("a valid email code for an address without a user")]
    OtpUserNotFound,
    #[error("email change by code is disabled")]
    ChangeEmailDisabled,
    #[error("an email change without the current address's code")]
    CurrentEmailOtpRequired,
    #[error("the new email belongs to another user")]
    EmailInUse,
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Jwt(#[from] castellan_session::jwt::JwtError),
    #[error(transparent)]
    Authz(#[from] castellan_authz::AuthzError),
    #[error(transparent)]
    Audit(#[from] castellan_audit::AuditError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Hashing(#[from] HashingError),
}

pub type IdentityResult<T> = Result<T, IdentityError>;

impl IdentityError {
    /// A refused provider login, answered as JSON (one-tap sign-in, `link-social` with an ID token).
    #[must_use]
    pub fn from_login(f: castellan_oauth::LoginFailure) -> Self {
        tracing::info!(code = %f.code, reason = %f.reason, "social sign-in refused");
        match f.code.as_ref() {
            "account_already_linked_to_different_user" => Self::SocialAccountAlreadyLinked,
            "signup_disabled" => Self::SignUpDisabled,
            "email_not_found" => Self::UserEmailNotFound,
            "banned" => Self::Session(castellan_session::SessionError::Banned),
            "internal_error" => Self::Internal(f.reason),
            // Better Auth's message is the code in words ("account not linked").
            code => Self::LinkRefused(code.replace('_', " ")),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        use IdentityError as E;
        use StatusCode as S;
        match e {
            E::InvalidEmailOrPassword => Self::new(
                S::UNAUTHORIZED,
                "INVALID_EMAIL_OR_PASSWORD",
                "Invalid email or password",
            ),
            E::InvalidEmail => Self::bad_request("INVALID_EMAIL", "Invalid email"),
            E::UserAlreadyExists => Self::new(
                S::UNPROCESSABLE_ENTITY,
                "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                "User already exists. Use another email.",
            ),
            E::PasswordTooShort => Self::bad_request("PASSWORD_TOO_SHORT", "Password too short"),
            E::PasswordTooLong => Self::bad_request("PASSWORD_TOO_LONG", "Password too long"),
            E::InvalidPassword => Self::bad_request("INVALID_PASSWORD", "Invalid password"),
            E::EmailNotVerified => Self::forbidden("EMAIL_NOT_VERIFIED", "Email not verified"),
            E::EmailCannotBeUpdated => {
                Self::bad_request("EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated")
            }
            E::NoFieldsToUpdate => Self::message_only(S::BAD_REQUEST, "No fields to update"),
            E::FieldNotAllowed(field) => {
                Self::bad_request("FIELD_NOT_ALLOWED", format!("{field} is not allowed to be set"))
            }
            E::CredentialAccountNotFound => {
                Self::bad_request("CREDENTIAL_ACCOUNT_NOT_FOUND", "Credential account not found")
            }
            E::PasswordAlreadySet => {
                Self::bad_request("PASSWORD_ALREADY_SET", "User already has a password set")
            }
            E::InvalidResetToken => Self::bad_request("INVALID_TOKEN", "Invalid token"),
            E::InvalidVerificationToken => Self::new(S::UNAUTHORIZED, "INVALID_TOKEN", "Invalid token"),
            E::VerificationTokenExpired => Self::new(S::UNAUTHORIZED, "TOKEN_EXPIRED", "Token expired"),
            E::InvalidDeletionToken => Self::new(S::NOT_FOUND, "INVALID_TOKEN", "Invalid token"),
            E::UserNotFound => Self::new(S::UNAUTHORIZED, "USER_NOT_FOUND", "User not found"),
            E::EmailMismatch => Self::bad_request("EMAIL_MISMATCH", "Email mismatch"),
            E::EmailAlreadyVerified => {
                Self::bad_request("EMAIL_ALREADY_VERIFIED", "Email is already verified")
            }
            E::EmailIsTheSame => Self::message_only(S::BAD_REQUEST, "Email is the same"),
            E::SessionExpired => Self::bad_request(
                "SESSION_EXPIRED",
                "Session expired. Re-authenticate to perform this action.",
            ),
            E::SessionNotFresh => Self::forbidden("SESSION_NOT_FRESH", "Session is not fresh"),
            E::SessionGone => Self::new(S::UNAUTHORIZED, "FAILED_TO_GET_SESSION", "Failed to get session"),
            E::Unauthorized => Self::unauthorized(),
            E::AdminUnauthenticated => Self::empty(S::UNAUTHORIZED),
            E::AdminDenied(code) => Self::forbidden(code, sentence(code)),
            E::AdminInvalid(code) => Self::bad_request(code, sentence(code)),
            E::AdminUserNotFound => Self::new(S::NOT_FOUND, "USER_NOT_FOUND", "User not found"),
            E::NotImpersonating => Self::message_only(S::BAD_REQUEST, "You are not impersonating anyone"),
            E::ImpersonationForbidden => Self::forbidden(
                "NOT_ALLOWED_WHILE_IMPERSONATING",
                "This action is not allowed while impersonating a user",
            ),
            E::ReasonRequired => Self::bad_request(
                "IMPERSONATION_REASON_REQUIRED",
                "A reason is required to impersonate a user",
            ),
            E::TwoFactorNotEnabled => Self::bad_request("TWO_FACTOR_NOT_ENABLED", "Two factor isn't enabled"),
            E::TotpNotEnabled => Self::bad_request("TOTP_NOT_ENABLED", "TOTP not enabled"),
            E::SsoRequired => castellan_domain::Refusal::sso_required().into(),
            E::BreakGlassRefused => Self::forbidden(
                "BREAK_GLASS_NOT_ALLOWED",
                "Break-glass sign-in is only for owners of organizations that require SSO",
            ),
            E::ChallengeNotFound => Self::bad_request("CHALLENGE_NOT_FOUND", "Challenge not found"),
            E::PasskeyNotAllowed => Self::new(
                S::UNAUTHORIZED,
                "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY",
                "You are not allowed to register this passkey",
            ),
            E::PasskeyRegistrationFailed => {
                Self::bad_request("FAILED_TO_VERIFY_REGISTRATION", "Failed to verify registration")
            }
            E::PasskeyPreviouslyRegistered => {
                Self::bad_request("PREVIOUSLY_REGISTERED", "Previously registered")
            }
            E::PasskeyNotFound => Self::new(S::NOT_FOUND, "PASSKEY_NOT_FOUND", "Passkey not found"),
            E::UnknownPasskey => Self::new(S::UNAUTHORIZED, "PASSKEY_NOT_FOUND", "Passkey not found"),
            E::PasskeyAuthenticationFailed => {
                Self::new(S::UNAUTHORIZED, "AUTHENTICATION_FAILED", "Authentication failed")
            }
            E::PasskeyAssertionRefused => Self::bad_request("AUTHENTICATION_FAILED", "Authentication failed"),
            E::PasskeyOriginMissing => Self::message_only(S::BAD_REQUEST, "origin missing"),
            E::InvalidCode => Self::new(S::UNAUTHORIZED, "INVALID_CODE", "Invalid code"),
            E::InvalidBackupCode => Self::new(S::UNAUTHORIZED, "INVALID_BACKUP_CODE", "Invalid backup code"),
            E::InvalidTwoFactorCookie => Self::new(
                S::UNAUTHORIZED,
                "INVALID_TWO_FACTOR_COOKIE",
                "Invalid two factor cookie",
            ),
            E::TooManyAttempts => Self::bad_request(
                "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE",
                "Too many attempts. Please request a new code.",
            ),
            E::OtpExpired => Self::bad_request("OTP_HAS_EXPIRED", "OTP has expired"),
            E::InvalidOtpType => Self::message_only(S::BAD_REQUEST, "Invalid OTP type"),
            E::InvalidOtp => Self::bad_request("INVALID_OTP", "Invalid OTP"),
            E::EmailOtpExpired => Self::bad_request("OTP_EXPIRED", "OTP expired"),
            E::EmailOtpTooManyAttempts => Self::forbidden("TOO_MANY_ATTEMPTS", "Too many attempts"),
            E::OtpUserNotFound => Self::bad_request("USER_NOT_FOUND", "User not found"),
            E::ChangeEmailDisabled => Self::message_only(S::BAD_REQUEST, "Change email with OTP is disabled"),
            E::CurrentEmailOtpRequired => {
                Self::message_only(S::BAD_REQUEST, "OTP is required to verify current email")
            }
            E::EmailInUse => Self::message_only(S::BAD_REQUEST, "Email already in use"),
            E::TwoFactorLocked => Self::new(
                S::TOO_MANY_REQUESTS,
                "ACCOUNT_TEMPORARILY_LOCKED",
                "Account temporarily locked due to too many failed verification attempts",
            ),
            E::ServerOnlyProperty(_) => Self::bad_request(
                "SERVER_ONLY_PROPERTY",
                "The property you're trying to set can only be set from the server auth instance only.",
            ),
            E::KeyInvalid(code) => Self::bad_request(code, sentence(code)),
            E::DeferredRefreshRequired => Self::new(
                S::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
                "POST method requires deferSessionRefresh to be enabled in session config",
            ),
            E::NoUserToDelete => {
                Self::new(S::NOT_FOUND, "FAILED_TO_GET_USER_INFO", "Failed to get user info")
            }
            E::PasswordViaUpdateUser => Self::bad_request(
                "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER",
                "Password cannot be updated via update user",
            ),
            E::NoDataToUpdate => Self::bad_request("NO_DATA_TO_UPDATE", "No data to update"),
            E::KeyNotFound => Self::new(S::NOT_FOUND, "KEY_NOT_FOUND", "API Key not found"),
            E::ProviderNotFound => Self::new(S::NOT_FOUND, "PROVIDER_NOT_FOUND", "Provider not found"),
            E::GenericProviderNotFound(id) => Self::bad_request(
                "PROVIDER_CONFIG_NOT_FOUND",
                format!("No config found for provider {id}"),
            ),
            E::ReservedParameter(key) => Self::bad_request(
                "INVALID_ADDITIONAL_PARAMS",
                format!("additionalParams may not set {key}"),
            ),
            E::ProviderUnavailable(reason) => {
                tracing::warn!(%reason, "an OAuth provider could not be used");
                Self::new(
                    S::BAD_GATEWAY,
                    "PROVIDER_UNAVAILABLE",
                    "The provider could not be reached",
                )
            }
            E::IdTokenNotSupported => {
                Self::new(S::NOT_FOUND, "ID_TOKEN_NOT_SUPPORTED", "id token not supported")
            }
            E::InvalidToken => Self::new(S::UNAUTHORIZED, "INVALID_TOKEN", "Invalid token"),
            E::FailedToGetUserInfo => Self::new(
                S::UNAUTHORIZED,
                "FAILED_TO_GET_USER_INFO",
                "Failed to get user info",
            ),
            E::UserEmailNotFound => {
                Self::new(S::UNAUTHORIZED, "USER_EMAIL_NOT_FOUND", "User email not found")
            }
            E::LinkRefused(message) => Self::new(S::UNAUTHORIZED, "OAUTH_LINK_ERROR", message),
            E::SocialAccountAlreadyLinked => Self::new(
                S::CONFLICT,
                "SOCIAL_ACCOUNT_ALREADY_LINKED",
                "Social account already linked",
            ),
            E::SignUpDisabled => Self::new(S::UNAUTHORIZED, "SIGNUP_DISABLED", "Sign up is disabled"),
            E::AccountNotFound => Self::bad_request("ACCOUNT_NOT_FOUND", "Account not found"),
            E::LastAccount => Self::bad_request(
                "FAILED_TO_UNLINK_LAST_ACCOUNT",
                "You can't unlink your last account",
            ),
            E::ProviderNotSupported(id) => Self::bad_request(
                "PROVIDER_NOT_SUPPORTED",
                format!("Provider {id} is not supported."),
            ),
            E::RefreshTokenNotFound => {
                Self::bad_request("REFRESH_TOKEN_NOT_FOUND", "Refresh token not found")
            }
            E::FailedToRefreshAccessToken => {
                Self::bad_request("FAILED_TO_REFRESH_ACCESS_TOKEN", "Failed to refresh access token")
            }
            E::FailedToGetAccessToken => {
                Self::bad_request("FAILED_TO_GET_ACCESS_TOKEN", "Failed to get a valid access token")
            }
            E::Internal(cause) => Self::internal(&cause),
            E::Authz(castellan_authz::AuthzError::Db(e)) | E::Audit(castellan_audit::AuditError::Db(e)) => {
                e.into()
            }
            E::Authz(castellan_authz::AuthzError::Data(e)) => e.into(),
            E::Authz(e) => Self::internal(&e),
            E::Session(e) => e.into(),
            E::Data(e) => e.into(),
            E::Hashing(e) => Self::internal(&e),
            E::Jwt(e) => Self::internal(&e),
        }
    }
}

/// Better Auth's admin messages are their codes as a sentence:
/// `YOU_CANNOT_BAN_YOURSELF` → "You cannot ban yourself".
fn sentence(code: &str) -> String {
    let lower = code.to_lowercase().replace('_', " ");
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl IdentityError {
    /// The `?error=` value used when a link's failure is reported by redirecting to its callback.
    #[must_use]
    pub fn redirect_code(&self) -> &'static str {
        match self {
            Self::InvalidVerificationToken | Self::InvalidResetToken | Self::InvalidDeletionToken => {
                "INVALID_TOKEN"
            }
            Self::VerificationTokenExpired => "TOKEN_EXPIRED",
            Self::UserNotFound => "USER_NOT_FOUND",
            Self::Unauthorized => "UNAUTHORIZED",
            _ => "INTERNAL_SERVER_ERROR",
        }
    }
}
