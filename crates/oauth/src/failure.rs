//! Why a browser login through a provider was refused.

use std::borrow::Cow;

/// `code` and `description` go to the `error` and `error_description` query parameters of the
/// redirect; `reason` is the detail for the audit log and the server log (usually the same as
/// the description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    pub code: Cow<'static, str>,
    pub description: String,
    pub reason: String,
}

impl LoginFailure {
    pub fn new(code: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            code: code.into(),
            description: reason.clone(),
            reason,
        }
    }

    /// A failure whose redirect keeps Better Auth's fixed wording while the logs get the detail.
    pub fn masked(code: &'static str, description: &'static str, reason: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            description: description.to_owned(),
            reason: reason.into(),
        }
    }
}
