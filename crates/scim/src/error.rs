//! SCIM's error response (RFC 7644 §3.12): an HTTP status, an optional `scimType` and a
//! human-readable `detail`.

use serde_json::{Value, json};

/// RFC 7644's `scimType` keywords that Castellan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
}

impl ScimType {
    #[must_use]
    pub fn keyword(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    #[must_use]
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a `scimType`.
    #[must_use]
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    #[must_use]
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(401, None, "A valid SCIM bearer token is required")
    }

    /// The response body.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [crate::ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(o)) = (self.scim_type, body.as_object_mut()) {
            o.insert("scimType".into(), t.keyword().into());
        }
        body
    }
}
