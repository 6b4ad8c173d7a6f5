//! axum extractors (feature `axum`): put an `Arc<Verifier>` in the router's state (or make it
//! reachable with `FromRef`), then take [`SignedIn`] or [`Jwt`] in a handler. A refusal answers
//! 401, 403 or 503 with a JSON body `{code, message}`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use castellan_verify::Verifier;
//! use castellan_verify::axum::SignedIn;
//!
//! async fn me(signed_in: SignedIn) -> String {
//!     signed_in.0.user.email
//! }
//!
//! let verifier = Arc::new(Verifier::new("https://auth.example.com/api/auth").unwrap());
//! let app: Router = Router::new().route("/me", get(me)).with_state(verifier);
//! ```

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{Claims, Presented, Verifier, VerifyError};

impl IntoResponse for VerifyError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let body = serde_json::json!({ "code": self.code(), "message": self.to_string() }).to_string();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

fn presented(parts: &Parts) -> Option<Presented> {
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    Presented::from_headers(header(AUTHORIZATION), header(COOKIE))
}

/// A session Castellan confirmed.
pub struct SignedIn(pub crate::SignedIn);

impl<S> FromRequestParts<S> for SignedIn
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = VerifyError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<Verifier>::from_ref(state);
        Presented::signed_in(presented(parts), &verifier).await.map(Self)
    }
}

/// A verified JWT from `Authorization: Bearer`.
pub struct Jwt(pub Claims);

impl<S> FromRequestParts<S> for Jwt
where
    Arc<Verifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = VerifyError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<Verifier>::from_ref(state);
        Presented::jwt(presented(parts), &verifier).await.map(Self)
    }
}
