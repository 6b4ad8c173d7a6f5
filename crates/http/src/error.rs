//! The one error type every service maps its domain errors into, rendered in Better Auth's
//! shapes: `{code, message}`, `{message}` alone, or an empty body. Internal details never reach
//! the client; they are logged once, here.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use castellan_domain::{Kind, Refusal};

/// What a 503 tells clients to wait before retrying.
const RETRY_AFTER_SECONDS: &str = "5";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    Coded {
        code: &'static str,
        message: String,
    },
    /// `{message, code, ...extra}`: Better Auth adds fields to a few errors.
    CodedWithExtra {
        code: &'static str,
        message: String,
        extra: serde_json::Value,
    },
    MessageOnly(String),
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::Coded {
                code,
                message: message.into(),
            },
        }
    }

    #[must_use]
    pub fn with_extra(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        extra: serde_json::Value,
    ) -> Self {
        Self {
            status,
            body: ErrorBody::CodedWithExtra {
                code,
                message: message.into(),
                extra,
            },
        }
    }

    #[must_use]
    pub fn message_only(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::MessageOnly(message.into()),
        }
    }

    #[must_use]
    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: ErrorBody::Empty,
        }
    }

    #[must_use]
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized")
    }

    #[must_use]
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    #[must_use]
    pub fn validation(message: impl Into<String>) -> Self {
        Self::bad_request("VALIDATION_ERROR", message)
    }

    /// A failure the client cannot fix. The cause is logged; the client learns nothing of it.
    #[must_use]
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "Internal server error",
        )
    }

    /// A dependency (the database) is down for now: 503 with `Retry-After`.
    #[must_use]
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable. Try again shortly.",
        )
    }

    #[must_use]
    pub fn code(&self) -> Option<&'static str> {
        match self.body {
            ErrorBody::Coded { code, .. } | ErrorBody::CodedWithExtra { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The one place a domain's kind of refusal becomes a status.
#[must_use]
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Denied => StatusCode::FORBIDDEN,
        Kind::Missing => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::Upstream => StatusCode::BAD_GATEWAY,
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = status_of(r.kind);
        match r.code {
            Some(code) => Self::new(status, code, r.message),
            None => Self::message_only(status, r.message),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            ErrorBody::Coded { code, message } | ErrorBody::CodedWithExtra { code, message, .. } => {
                write!(f, "{} {code}: {message}", self.status.as_u16())
            }
            ErrorBody::MessageOnly(m) => write!(f, "{} {m}", self.status.as_u16()),
            ErrorBody::Empty => write!(f, "{}", self.status.as_u16()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.content_type(ContentType::json());
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        match &self.body {
            ErrorBody::Coded { code, message } => {
                res.body(serde_json::json!({ "message": message, "code": code }).to_string())
            }
            ErrorBody::CodedWithExtra { code, message, extra } => {
                let mut body = serde_json::json!({ "message": message, "code": code });
                if let (Some(obj), Some(more)) = (body.as_object_mut(), extra.as_object()) {
                    obj.extend(more.clone());
                }
                res.body(body.to_string())
            }
            ErrorBody::MessageOnly(message) => {
                res.body(serde_json::json!({ "message": message }).to_string())
            }
            ErrorBody::Empty => res.finish(),
        }
    }
}

impl From<castellan_session::SessionError> for ApiError {
    fn from(e: castellan_session::SessionError) -> Self {
        match e {
            castellan_session::SessionError::Banned => {
                Self::forbidden("BANNED_USER", castellan_session::DEFAULT_BAN_MESSAGE)
            }
            castellan_session::SessionError::Data(e) => e.into(),
            // A revocation that cannot reach the shared cache is refused, not half done.
            castellan_session::SessionError::Cache(cause) => {
                tracing::warn!(error = %cause, "the session cache is unavailable");
                Self::unavailable()
            }
        }
    }
}

impl From<castellan_data::DataError> for ApiError {
    fn from(e: castellan_data::DataError) -> Self {
        match e {
            castellan_data::DataError::TooLarge => {
                Self::validation("Invalid input: a value is too long to be stored")
            }
            castellan_data::DataError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "the database is unavailable");
                Self::unavailable()
            }
            other => Self::internal(&other),
        }
    }
}

/// A database failure: the client's fault when the value was too large, else internal.
impl From<castellan_data::DbErr> for ApiError {
    fn from(e: castellan_data::DbErr) -> Self {
        castellan_data::DataError::from(e).into()
    }
}

/// Better Auth answers an unknown route or a wrong method with an empty 404.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}
