//! The state every service shares, registered once as `web::Data<AuthState>`.

use std::sync::Arc;

use castellan_authz::Authorizer;
use castellan_cache::Cache;
use castellan_config::Settings;
use castellan_data::{Clock, DatabaseConnection};
use castellan_mail::SharedMailer;
use castellan_session::jwt::JwtIssuer;
use castellan_session::{Passwords, SessionManager};

use crate::cookies::CookieJarConfig;
use crate::origin::TrustedOrigins;

#[derive(Clone)]
pub struct AuthState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub cache: Cache,
    pub sessions: Arc<SessionManager>,
    pub passwords: Passwords,
    /// The organization authorization authority (casbin).
    pub authz: Arc<Authorizer>,
    /// Signs JWTs for downstream backends and publishes the JWKS.
    pub jwt: Arc<JwtIssuer>,
    pub mailer: SharedMailer,
    pub clock: Arc<dyn Clock>,
    pub cookies: CookieJarConfig,
    pub origins: TrustedOrigins,
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
        mailer: SharedMailer,
        clock: Arc<dyn Clock>,
        passwords: Passwords,
        authz: Arc<Authorizer>,
    ) -> Self {
        let sessions = Arc::new(SessionManager::new(
            db.clone(),
            cache.clone(),
            settings.session.clone(),
            clock.clone(),
        ));
        let jwt = Arc::new(JwtIssuer::new(
            db.clone(),
            settings.secret.clone(),
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
            authz,
            jwt,
            mailer,
            clock,
            cookies,
            origins,
        }
    }
}
