//! The current-session extractor. Handlers never read cookies themselves: they take
//! [`MaybeSession`] and call [`MaybeSession::require`] after validating their input, so that
//! validation errors win over 401 as in Better Auth.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use castellan_session::AuthSession;

use crate::cookies::{DONT_REMEMBER, SESSION_TOKEN};
use crate::error::ApiError;
use crate::state::AuthState;

pub struct MaybeSession {
    pub session: Option<AuthSession>,
    /// The signed `dont_remember` cookie is present: the session must not be extended.
    pub dont_remember: bool,
}

impl MaybeSession {
    /// # Errors
    /// 401 `UNAUTHORIZED` without a valid session.
    pub fn require(self) -> Result<AuthSession, ApiError> {
        self.session.ok_or_else(ApiError::unauthorized)
    }
}

/// The raw session token the request presents, if its signature is valid.
#[must_use]
pub fn presented_token(req: &HttpRequest, state: &AuthState) -> Option<String> {
    state.cookies.read_signed(req, SESSION_TOKEN)
}

impl FromRequest for MaybeSession {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    #[tracing::instrument(skip_all)]
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AuthState>>()
                .ok_or_else(|| ApiError::internal(&"AuthState is not registered"))?;
            let dont_remember = state.cookies.read_signed(&req, DONT_REMEMBER).is_some();
            let session = match presented_token(&req, state) {
                Some(token) => state.sessions.find(&token).await?,
                None => None,
            };
            Ok(Self {
                session,
                dont_remember,
            })
        })
    }
}
