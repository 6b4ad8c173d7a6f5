//! The state the HTTP layer itself needs (sessions, cookies, origins, settings), registered once
//! as `web::Data<AuthState>`. What only the domains need (the authorizer, the mailer) the
//! bootstrap registers beside it, and each service's routes fetch with [`registered`].

use std::sync::Arc;

use castellan_cache::Cache;
use castellan_config::Settings;
use castellan_data::{Clock, DatabaseConnection};
use castellan_session::jwt::JwtIssuer;
use castellan_session::{Passwords, SessionManager};

use actix_web::{HttpRequest, web};

use crate::cookies::CookieJarConfig;
use crate::error::ApiError;
use crate::origin::TrustedOrigins;

#[derive(Clone)]
pub struct AuthState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub cache: Cache,
    pub sessions: Arc<SessionManager>,
    pub passwords: Passwords,
    /// Signs JWTs for downstream backends and publishes the JWKS.
    pub jwt: Arc<JwtIssuer>,
    pub clock: Arc<dyn Clock>,
    pub cookies: CookieJarConfig,
    pub origins: TrustedOrigins,
    /// This process's own counters, for the general rate-limit rule while the shared store
    /// (Redis) cannot be reached.
    pub local_limits: Cache,
}

impl AuthState {
    /// Where a request came from: its client address (from the configured headers) and agent.
    #[must_use]
    pub fn client(&self, req: &actix_web::HttpRequest) -> castellan_session::ClientInfo {
        crate::client::client_info(req, &self.settings.rate_limit)
    }

    #[must_use]
    pub fn new(
        settings: Settings,
        db: DatabaseConnection,
        cache: Cache,
        clock: Arc<dyn Clock>,
        passwords: Passwords,
    ) -> Self {
        let sessions = Arc::new(SessionManager::new(
            db.clone(),
            cache.clone(),
            settings.session.clone(),
            clock.clone(),
        ));
        let jwt = Arc::new(JwtIssuer::new(
            db.clone(),
            settings.secrets.clone(),
            settings.origin(),
            settings.jwt_ttl,
            settings.jwt_key_rotation,
            clock.clone(),
        ));
        let cookies = CookieJarConfig::new(&settings);
        let origins = TrustedOrigins::new(settings.origin(), &settings.trusted_origins);
        Self {
            settings: Arc::new(settings),
            db,
            cache,
            sessions,
            passwords,
            jwt,
            clock,
            cookies,
            origins,
            local_limits: Cache::memory(),
        }
    }
}

/// A dependency the bootstrap registered as `web::Data<T>`.
///
/// # Errors
/// 500 when it was not registered: a wiring mistake, never a client's.
pub fn registered<T: ?Sized + 'static>(req: &HttpRequest) -> Result<web::Data<T>, ApiError> {
    req.app_data::<web::Data<T>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&format!("{} is not registered", std::any::type_name::<T>())))
}

/// A domain service its routes build per request from the registered dependencies. The
/// implementation lives in the service's routes module, so the domain never sees HTTP.
pub trait FromRegistered: Sized {
    /// # Errors
    /// A dependency that was not registered.
    fn build(req: &HttpRequest) -> Result<Self, ApiError>;
}

/// Extracts a domain service: `Service(orgs): Service<OrganizationService>` in a handler.
pub struct Service<T>(pub T);

impl<T: FromRegistered> actix_web::FromRequest for Service<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(T::build(req).map(Service))
    }
}
