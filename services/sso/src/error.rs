//! The SSO service's errors and their one mapping to HTTP.
//!
//! Two families: [`SsoError`] answers an API call with Better Auth's JSON error shape;
//! [`LoginFailure`] ends a browser login (OIDC callback, SAML ACS) with a redirect carrying
//! `error` and `error_description`, and is what the audit log records as the rejection reason.

use std::borrow::Cow;

use castellan_http::ApiError;

pub use castellan_domain::Kind;
use castellan_domain::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error(transparent)]
    Rejected(Refusal),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Data(#[from] castellan_data::DataError),
    #[error(transparent)]
    Authz(#[from] castellan_authz::AuthzError),
    #[error(transparent)]
    Audit(#[from] castellan_audit::AuditError),
    #[error(transparent)]
    Session(#[from] castellan_session::SessionError),
    /// A SCIM request refused in SCIM's terms (RFC 7644 §3.12).
    #[error(transparent)]
    Scim(castellan_scim::ScimError),
    #[error("{0}")]
    Internal(String),
}

pub type SsoResult<T> = Result<T, SsoError>;

impl SsoError {
    pub fn new(kind: Kind, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Rejected(Refusal::message_only(kind, message))
    }

    pub fn coded(kind: Kind, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::Rejected(Refusal::coded(kind, code, message))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

impl From<SsoError> for ApiError {
    fn from(e: SsoError) -> Self {
        match e {
            SsoError::Rejected(refusal) => refusal.into(),
            SsoError::Scim(e) => match actix_web::http::StatusCode::from_u16(e.status) {
                Ok(status) if status.is_client_error() => Self::message_only(status, e.detail),
                _ => Self::internal(&e),
            },
            SsoError::Session(e) => e.into(),
            SsoError::Data(e) | SsoError::Authz(castellan_authz::AuthzError::Data(e)) => e.into(),
            SsoError::Db(e)
            | SsoError::Authz(castellan_authz::AuthzError::Db(e))
            | SsoError::Audit(castellan_audit::AuditError::Db(e)) => e.into(),
            other => Self::internal(&other),
        }
    }
}

pub use castellan_oauth::LoginFailure;

impl From<SsoError> for LoginFailure {
    fn from(e: SsoError) -> Self {
        match e {
            SsoError::Rejected(refusal) => Self::new("invalid_request", refusal.message.into_owned()),
            other => {
                tracing::error!(error = %other, "SSO login failed");
                Self::new("internal_error", "the login could not be completed")
            }
        }
    }
}

impl From<Refusal> for SsoError {
    fn from(refusal: Refusal) -> Self {
        Self::Rejected(refusal)
    }
}
