//! A domain's "no": what sort of refusal it is, Better Auth's code for it when there is one, and
//! the message the caller reads. Each service's error enum carries one; `castellan_http` turns
//! the kind into a status in one place.

use std::borrow::Cow;

/// What sort of refusal, independent of HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request cannot be carried out as asked (400).
    Invalid,
    /// Who the caller is, or is not (401).
    Unauthenticated,
    /// The caller may not do this (403).
    Denied,
    /// Nothing there (404).
    Missing,
    /// It exists already (409).
    Conflict,
    /// Well formed, but not acceptable (422).
    Unprocessable,
    /// A server we depend on (an IdP, a DNS server) failed us (502).
    Upstream,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?} {code:?}: {message}")]
pub struct Refusal {
    pub kind: Kind,
    /// Better Auth's error code; some of its refusals have only a message.
    pub code: Option<&'static str>,
    pub message: Cow<'static, str>,
}

impl Refusal {
    #[must_use]
    pub fn coded(kind: Kind, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            code: Some(code),
            message: message.into(),
        }
    }

    /// An organization that requires SSO, to a session that did not come through it: the
    /// message names the way in.
    #[must_use]
    pub fn sso_required() -> Self {
        Self::coded(
            Kind::Denied,
            "SSO_REQUIRED",
            "This organization requires signing in through its SSO: POST /api/auth/sign-in/sso with your work email",
        )
    }

    /// A refusal Better Auth words without a code.
    #[must_use]
    pub fn message_only(kind: Kind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            code: None,
            message: message.into(),
        }
    }
}
