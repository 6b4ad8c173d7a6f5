//! Sessions: creating, finding, refreshing and revoking them.
//!
//! The database is the source of truth. Validated sessions are cached (in Redis when configured,
//! so all replicas share one view, else in process) under a digest of the token, never the token
//! itself; every revocation deletes the cache entry before it returns.

use std::sync::Arc;
use std::time::Duration;

use castellan_cache::{Cache, CacheError, Freshness, ReplicaMap};
use castellan_config::SessionSettings;
use castellan_crypto::{random, signing};
use castellan_data::entity::{session, user};
use castellan_data::repo::{sessions, users};
use castellan_data::{Clock, DataError, DatabaseConnection};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Better Auth's admin plugin's default message for banned users.
pub const DEFAULT_BAN_MESSAGE: &str =
    "You have been banned from this application. Please contact support if you believe this is an error.";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the user is banned")]
    Banned,
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

pub type SessionResult<T> = Result<T, SessionError>;

/// A valid session together with its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSession {
    pub session: session::Model,
    pub user: user::Model,
}

/// How a new session was authenticated, recorded on its row (`authMethod`, `authConnectionId`,
/// `authenticatedAt`) and shown by `get-session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// `password`, `social`, `sso`, `magic-link`, `email-otp`, `email-verification`,
    /// `impersonation`; a passed second factor is appended (`password+totp`).
    pub method: String,
    /// The SSO connection's `providerId` or the social provider.
    pub connection: Option<String>,
}

impl Authentication {
    #[must_use]
    pub fn by(method: &str) -> Self {
        Self {
            method: method.to_owned(),
            connection: None,
        }
    }

    #[must_use]
    pub fn through(method: &str, connection: &str) -> Self {
        Self {
            method: method.to_owned(),
            connection: Some(connection.to_owned()),
        }
    }

    /// How `session` was authenticated, for a session that takes its place.
    #[must_use]
    pub fn of(session: &session::Model) -> Self {
        Self {
            method: session
                .auth_method
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
            connection: session.auth_connection_id.clone(),
        }
    }

    /// The same, with `factor` passed on top.
    #[must_use]
    pub fn and(mut self, factor: &str) -> Self {
        self.method = format!("{}+{factor}", self.method);
        self
    }
}

/// Where a request came from, recorded on new sessions.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip_address: String,
    pub user_agent: String,
}

/// The caller of an authenticated request: a validated session, and where the request came from
/// (for audit logs).
pub struct Actor {
    pub auth: AuthSession,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

impl Actor {
    #[must_use]
    pub fn user_id(&self) -> &str {
        &self.auth.user.id
    }

    #[must_use]
    pub fn active_org(&self) -> Option<&str> {
        self.auth.session.active_organization_id.as_deref()
    }
}

/// Redis channel that carries the cache keys of sessions whose cached copies changed or ended.
pub const SESSION_CHANNEL: &str = "sessions:changed";

/// Sessions a replica keeps in its own memory in front of Redis.
const REPLICA_SESSIONS: usize = 100_000;

pub struct SessionManager {
    db: DatabaseConnection,
    cache: Cache,
    settings: SessionSettings,
    clock: Arc<dyn Clock>,
    /// With Redis, each replica also keeps the sessions it served, so a warm request costs no
    /// Redis round trip. Every change to a cached session is announced on [`SESSION_CHANNEL`]
    /// and drops every replica's copy before it is answered; a replica that is not subscribed
    /// keeps none (see [`Freshness`]). Never used with the in-process cache, which is local.
    /// A copy is also kept no longer than Redis keeps its own (`cache_ttl`), so a change that is
    /// not announced is seen no later than before.
    replica: ReplicaMap<(AuthSession, DateTime<Utc>)>,
    freshness: Freshness,
}

fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn cache_key(token: &str) -> String {
    format!("session:{}", signing::sha256_b64url(token.as_bytes()))
}

impl SessionManager {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        cache: Cache,
        settings: SessionSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            db,
            cache,
            settings,
            clock,
            replica: ReplicaMap::new(REPLICA_SESSIONS),
            freshness: Freshness::new(false),
        }
    }

    /// Whether this replica hears the others' announcements ([`Cache::subscribe`]). Either way
    /// its copies are dropped: announcements may have been missed.
    pub fn subscribed(&self, live: bool) {
        self.freshness.set_live(live);
        self.replica.clear();
    }

    /// Another replica announced that these sessions (space-separated cache keys) changed.
    pub fn heard(&self, keys: &str) {
        let keys: Vec<String> = keys.split(' ').map(str::to_owned).collect();
        self.freshness.bump();
        self.replica.remove(&keys);
    }

    /// Drops the cached copies of `keys` in Redis, here and on every other replica.
    async fn drop_cached(&self, keys: &[String]) -> SessionResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // Here first: this replica's copy must not outlive a Redis that fails the delete. The
        // announcement drops it again: a load that read Redis before the delete may have stored it.
        self.freshness.bump();
        self.replica.remove(keys);
        self.cache.delete(keys).await?;
        self.announce(keys).await
    }

    async fn announce(&self, keys: &[String]) -> SessionResult<()> {
        self.freshness.bump();
        self.replica.remove(keys);
        self.cache.announce(SESSION_CHANNEL, &keys.join(" ")).await?;
        Ok(())
    }

    /// The shared cache (Redis when configured): for what must hold across replicas beyond
    /// sessions, such as a one-time code's single use.
    #[must_use]
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    #[must_use]
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Starts a session for `user`. "Don't remember me" sessions live one day.
    ///
    /// # Errors
    /// [`SessionError::Banned`] for a user under an active ban; storage failures.
    pub async fn create(
        &self,
        user: &user::Model,
        how: Authentication,
        client: &ClientInfo,
        dont_remember: bool,
    ) -> SessionResult<AuthSession> {
        if self.is_banned(user) {
            return Err(SessionError::Banned);
        }
        let now = self.now();
        let lifetime = if dont_remember {
            self.settings.dont_remember_expires_in
        } else {
            self.settings.expires_in
        };
        let row = sessions::insert(
            &self.db,
            sessions::NewSession {
                id: random::generate_id(),
                token: random::generate_id(),
                user_id: user.id.clone(),
                expires_at: now + to_delta(lifetime),
                ip_address: client.ip_address.clone(),
                user_agent: client.user_agent.clone(),
                impersonated_by: None,
                auth_method: how.method,
                auth_connection_id: how.connection,
            },
            now,
        )
        .await?;
        Ok(AuthSession {
            session: row,
            user: user.clone(),
        })
    }

    /// A session for `user` opened by the admin `admin_id` (`impersonatedBy`), lasting `lifetime`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn create_impersonation(
        &self,
        user: &user::Model,
        admin_id: &str,
        client: &ClientInfo,
        lifetime: Duration,
    ) -> SessionResult<AuthSession> {
        let now = self.now();
        let row = sessions::insert(
            &self.db,
            sessions::NewSession {
                id: random::generate_id(),
                token: random::generate_id(),
                user_id: user.id.clone(),
                expires_at: now + to_delta(lifetime),
                ip_address: client.ip_address.clone(),
                user_agent: client.user_agent.clone(),
                impersonated_by: Some(admin_id.to_owned()),
                auth_method: "impersonation".to_owned(),
                auth_connection_id: None,
            },
            now,
        )
        .await?;
        Ok(AuthSession {
            session: row,
            user: user.clone(),
        })
    }

    /// Under a ban that has not expired.
    #[must_use]
    pub fn is_banned(&self, user: &user::Model) -> bool {
        user.banned == Some(true) && user.ban_expires.is_none_or(|until| until > self.now())
    }

    /// The live session for `token`, if any. Expired rows are deleted on sight.
    ///
    /// # Errors
    /// Database failures. A cache that cannot be read is skipped: the database answers.
    pub async fn find(&self, token: &str) -> SessionResult<Option<AuthSession>> {
        let now = self.now();
        let key = cache_key(token);
        if let Some((auth, kept_until)) = self.replica.get(&self.freshness, &key)
            && kept_until > now
            && auth.session.expires_at > now
            && auth.session.token == token
        {
            castellan_metrics::cache_lookup(&castellan_metrics::SESSION_CACHE, true);
            return Ok(Some(auth));
        }
        let ticket = self.freshness.ticket();
        match self.cache.get(&key).await {
            Ok(Some(json)) => {
                if let Ok(auth) = serde_json::from_str::<AuthSession>(&json)
                    && auth.session.expires_at > now
                    && auth.session.token == token
                {
                    castellan_metrics::cache_lookup(&castellan_metrics::SESSION_CACHE, true);
                    self.keep(ticket, &key, &auth);
                    return Ok(Some(auth));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "session cache unavailable, reading the database"),
        }
        castellan_metrics::cache_lookup(&castellan_metrics::SESSION_CACHE, false);
        let Some(row) = sessions::find_by_token(&self.db, token).await? else {
            return Ok(None);
        };
        if row.expires_at <= now {
            sessions::delete_expired(&self.db, token, now).await?;
            return Ok(None);
        }
        let Some(user) = users::find_by_id(&self.db, &row.user_id).await? else {
            return Ok(None);
        };
        let auth = AuthSession { session: row, user };
        self.remember(&auth).await;
        self.keep(ticket, &key, &auth);
        Ok(Some(auth))
    }

    /// This replica's copy of a session loaded under `ticket`.
    fn keep(&self, ticket: u64, key: &str, auth: &AuthSession) {
        let kept_until = self.now() + to_delta(self.settings.cache_ttl);
        self.replica
            .put(&self.freshness, ticket, key, (auth.clone(), kept_until));
    }

    async fn remember(&self, auth: &AuthSession) {
        let left = (auth.session.expires_at - self.now())
            .to_std()
            .unwrap_or_default();
        let ttl = left.min(self.settings.cache_ttl);
        if ttl.is_zero() {
            return;
        }
        if let Ok(json) = serde_json::to_string(auth)
            && let Err(e) = self.cache.set(&cache_key(&auth.session.token), &json, ttl).await
        {
            tracing::warn!(error = %e, "could not cache a session");
        }
    }

    /// Whether the session was last extended at least `updateAge` ago (Better Auth's rule:
    /// `expiresAt - expiresIn + updateAge <= now`).
    #[must_use]
    pub fn refresh_due(&self, auth: &AuthSession) -> bool {
        auth.session.expires_at - to_delta(self.settings.expires_in) + to_delta(self.settings.update_age)
            <= self.now()
    }

    /// Extends the session to `now + expiresIn`. Returns `false` when the row vanished meanwhile
    /// (revoked by another request).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn extend(&self, auth: &mut AuthSession) -> SessionResult<bool> {
        let now = self.now();
        let expires_at = now + to_delta(self.settings.expires_in);
        if !sessions::extend(&self.db, &auth.session.token, expires_at, now).await? {
            self.drop_cached(&[cache_key(&auth.session.token)]).await?;
            return Ok(false);
        }
        auth.session.expires_at = expires_at;
        auth.session.updated_at = now;
        self.remember(auth).await;
        // Other replicas hold the copy with the old expiry.
        self.announce(&[cache_key(&auth.session.token)]).await?;
        Ok(true)
    }

    /// Records the session's active organization (and, when given, team) in the row and the cache.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn set_active(
        &self,
        auth: &AuthSession,
        organization_id: Option<String>,
        team_id: Option<Option<String>>,
    ) -> SessionResult<AuthSession> {
        use sea_orm::ActiveValue::Set;
        // Choosing the organization (and team) already active changes nothing: no write, and
        // the cached session stays valid. Clients call set-active on every page load.
        let unchanged = auth.session.active_organization_id == organization_id
            && team_id
                .as_ref()
                .is_none_or(|team| *team == auth.session.active_team_id);
        if unchanged {
            return Ok(auth.clone());
        }
        let mut row: session::ActiveModel = auth.session.clone().into();
        row.active_organization_id = Set(organization_id);
        if let Some(team) = team_id {
            row.active_team_id = Set(team);
        }
        row.updated_at = Set(self.now());
        let session = sessions::update(&self.db, row).await?;
        self.drop_cached(&[cache_key(&session.token)]).await?;
        Ok(AuthSession {
            session,
            user: auth.user.clone(),
        })
    }

    /// Whether the session was created within `freshAge`.
    #[must_use]
    pub fn is_fresh(&self, auth: &AuthSession) -> bool {
        self.settings.fresh_age.is_zero()
            || self.now() - auth.session.created_at < to_delta(self.settings.fresh_age)
    }

    /// # Errors
    /// Storage failures.
    pub async fn list(&self, user_id: &str) -> SessionResult<Vec<session::Model>> {
        Ok(sessions::list_active_for_user(&self.db, user_id, self.now()).await?)
    }

    /// Ends one session. Returns whether a row was deleted.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn revoke(&self, token: &str) -> SessionResult<bool> {
        self.drop_cached(&[cache_key(token)]).await?;
        let deleted = sessions::delete_by_token(&self.db, token, self.now()).await?;
        // Again after the delete: a concurrent reader may have re-cached the row in between.
        self.drop_cached(&[cache_key(token)]).await?;
        Ok(deleted)
    }

    /// Ends every session of the user, or every one but `keep`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn revoke_all(&self, user_id: &str, keep: Option<&str>) -> SessionResult<()> {
        let keys = self.user_cache_keys(user_id, keep).await?;
        self.drop_cached(&keys).await?;
        match keep {
            Some(token) => sessions::delete_for_user_except(&self.db, user_id, token, self.now()).await?,
            None => sessions::delete_for_user(&self.db, user_id, self.now()).await?,
        }
        self.drop_cached(&keys).await?;
        Ok(())
    }

    /// Drops cached copies of the user's sessions after the user row changed.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn forget_user(&self, user_id: &str) -> SessionResult<()> {
        let keys = self.user_cache_keys(user_id, None).await?;
        self.drop_cached(&keys).await
    }

    async fn user_cache_keys(&self, user_id: &str, except: Option<&str>) -> SessionResult<Vec<String>> {
        Ok(sessions::tokens_for_user(&self.db, user_id)
            .await?
            .into_iter()
            .filter(|t| Some(t.as_str()) != except)
            .map(|t| cache_key(&t))
            .collect())
    }
}

pub mod api_keys;
pub mod jwt;
pub mod passwords;
pub use passwords::{HashingError, Passwords};
