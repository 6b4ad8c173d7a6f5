//! JWTs for downstream backends (Better Auth's jwt plugin): EdDSA over Ed25519, `iss` and `aud`
//! the public origin, 15-minute tokens, keys in the `jwks` table with the private half encrypted
//! by the secret. Keys rotate on an interval; a retired key stays published until every token it
//! signed has expired. The current key is cached in memory and re-read every minute, so a
//! rotation by another replica is picked up.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use castellan_crypto::keyring::Keyring;
use castellan_crypto::{eddsa, random};
use castellan_data::entity::jwks;
use castellan_data::{Clock, DataError, DatabaseConnection};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ExprTrait as _, QueryFilter, QueryOrder,
};
use serde_json::{Map, Value};
use std::sync::{Arc, PoisonError};

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("a stored signing key cannot be read (wrong secret?)")]
    Key,
}

impl From<sea_orm::DbErr> for JwtError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Data(e.into())
    }
}

#[derive(Clone)]
struct SigningKey {
    kid: String,
    private_jwk: Value,
    created_at: DateTime<Utc>,
    loaded: Instant,
}

/// A JWT already signed for a session, reused while it has most of its life left.
struct Issued {
    jwt: String,
    /// The user row's `updatedAt` it was signed from: a profile change means a new token.
    user_version: DateTime<Utc>,
    reuse_until: DateTime<Utc>,
}

/// Sessions whose latest JWT is kept for reuse.
const ISSUED_CAPACITY: usize = 100_000;

pub struct JwtIssuer {
    issued: RwLock<HashMap<String, Issued>>,
    db: DatabaseConnection,
    secrets: Keyring,
    origin: String,
    ttl: TimeDelta,
    rotation: TimeDelta,
    clock: Arc<dyn Clock>,
    current: RwLock<Option<SigningKey>>,
}

/// How long the in-memory key is trusted before the database is asked again.
const RELOAD_AFTER: Duration = Duration::from_secs(60);

fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl JwtIssuer {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        secrets: Keyring,
        origin: String,
        ttl: Duration,
        rotation: Duration,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            issued: RwLock::new(HashMap::new()),
            db,
            secrets,
            origin,
            ttl: to_delta(ttl),
            rotation: to_delta(rotation),
            clock,
            current: RwLock::new(None),
        }
    }

    /// Signs `payload` (the user object) with `iat`, `sub`, `exp`, `iss` and `aud` added.
    ///
    /// # Errors
    /// Storage failures, or stored keys the secret cannot open.
    pub async fn sign(&self, mut payload: Map<String, Value>, subject: &str) -> Result<String, JwtError> {
        let key = self.signing_key().await?;
        let now = self.clock.now();
        let mut claims = Map::new();
        claims.insert("iat".into(), now.timestamp().into());
        claims.append(&mut payload);
        claims.insert("sub".into(), subject.into());
        claims.insert("exp".into(), (now + self.ttl).timestamp().into());
        claims.insert("iss".into(), self.origin.clone().into());
        claims.insert("aud".into(), self.origin.clone().into());
        eddsa::sign_jwt(&key.private_jwk, &key.kid, &claims).map_err(|_| JwtError::Key)
    }

    /// The JWT for a session (`get-session`'s `set-auth-jwt`): the one issued earlier for this
    /// session is reused while at least two thirds of its lifetime remain and the user row has
    /// not changed, so the hot path signs once per session every few minutes instead of per call.
    ///
    /// # Errors
    /// As [`JwtIssuer::sign`].
    pub async fn for_session(
        &self,
        session_token: &str,
        user_version: DateTime<Utc>,
        payload: impl FnOnce() -> Map<String, Value>,
        subject: &str,
    ) -> Result<String, JwtError> {
        let key = castellan_crypto::signing::sha256_b64url(session_token.as_bytes());
        let now = self.clock.now();
        if let Some(hit) = self
            .issued
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            && hit.user_version == user_version
            && now < hit.reuse_until
        {
            return Ok(hit.jwt.clone());
        }
        let jwt = self.sign(payload(), subject).await?;
        let mut issued = self.issued.write().unwrap_or_else(PoisonError::into_inner);
        if issued.len() >= ISSUED_CAPACITY {
            issued.retain(|_, i| i.reuse_until > now);
            if issued.len() >= ISSUED_CAPACITY {
                issued.clear();
            }
        }
        issued.insert(
            key,
            Issued {
                jwt: jwt.clone(),
                user_version,
                reuse_until: now + self.ttl / 3,
            },
        );
        Ok(jwt)
    }

    /// The published keys: the current one and retired ones whose tokens may still be valid.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn jwks(&self) -> Result<Vec<Value>, JwtError> {
        // Make sure a key exists, so a verifier that fetches first never sees an empty set.
        self.signing_key().await?;
        let now = self.clock.now();
        let rows = jwks::Entity::find()
            .order_by_desc(jwks::Column::CreatedAt)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.expires_at.is_none_or(|e| e > now))
            .filter_map(|r| {
                let mut jwk: Map<String, Value> = serde_json::from_str(&r.public_key).ok()?;
                jwk.insert(
                    "alg".into(),
                    r.alg.clone().unwrap_or_else(|| "EdDSA".into()).into(),
                );
                jwk.insert("kid".into(), r.id.into());
                Some(Value::Object(jwk))
            })
            .collect())
    }

    /// Replaces the signing key now (`castellan keys rotate`). The keys it replaces stay
    /// published until every token they may still sign has expired (replicas pick the new key
    /// up within a minute), unless `revoke` withdraws them at once, for a key that leaked:
    /// then the tokens they signed stop verifying. Returns the new key's id and how many keys
    /// were retired.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn rotate_now(&self, revoke: bool) -> Result<(String, usize), JwtError> {
        let now = self.clock.now();
        let grace = self.ttl + TimeDelta::from_std(RELOAD_AFTER).unwrap_or_default();
        let until = if revoke { now } else { now + grace };
        let live = jwks::Entity::find()
            .filter(
                jwks::Column::ExpiresAt
                    .is_null()
                    .or(jwks::Column::ExpiresAt.gt(until)),
            )
            .all(&self.db)
            .await?;
        let retired = live.len();
        for row in live {
            let mut retiring: jwks::ActiveModel = row.into();
            retiring.expires_at = Set(Some(until));
            retiring.update(&self.db).await?;
        }
        let key = self.create(now).await?;
        let kid = key.kid.clone();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(key);
        Ok((kid, retired))
    }

    async fn signing_key(&self) -> Result<SigningKey, JwtError> {
        let now = self.clock.now();
        if let Some(k) = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && k.loaded.elapsed() < RELOAD_AFTER
            && now - k.created_at < self.rotation
        {
            return Ok(k.clone());
        }
        let newest = jwks::Entity::find()
            .filter(jwks::Column::ExpiresAt.is_null())
            .order_by_desc(jwks::Column::CreatedAt)
            .one(&self.db)
            .await?;
        let key = match newest {
            Some(row) if now - row.created_at < self.rotation => self.open(&row)?,
            Some(old) => {
                // Retire the old key once every token it signed has expired.
                let mut retired: jwks::ActiveModel = old.into();
                retired.expires_at = Set(Some(now + self.ttl));
                retired.update(&self.db).await?;
                self.create(now).await?
            }
            None => self.create(now).await?,
        };
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(key.clone());
        Ok(key)
    }

    fn open(&self, row: &jwks::Model) -> Result<SigningKey, JwtError> {
        let envelope: String = serde_json::from_str(&row.private_key).map_err(|_| JwtError::Key)?;
        let jwk = self.secrets.decrypt(&envelope).map_err(|_| JwtError::Key)?;
        let private_jwk: Value = serde_json::from_str(&jwk).map_err(|_| JwtError::Key)?;
        Ok(SigningKey {
            kid: row.id.clone(),
            private_jwk,
            created_at: row.created_at,
            loaded: Instant::now(),
        })
    }

    async fn create(&self, now: DateTime<Utc>) -> Result<SigningKey, JwtError> {
        let (private_jwk, public_jwk) = eddsa::generate();
        let envelope = self
            .secrets
            .encrypt(&private_jwk.to_string())
            .map_err(|_| JwtError::Key)?;
        let row = jwks::ActiveModel {
            id: Set(random::generate_id()),
            public_key: Set(public_jwk.to_string()),
            private_key: Set(Value::String(envelope).to_string()),
            created_at: Set(now),
            expires_at: Set(None),
            alg: Set(Some("EdDSA".to_owned())),
            crv: Set(Some("Ed25519".to_owned())),
        };
        let row = row.insert(&self.db).await?;
        Ok(SigningKey {
            kid: row.id,
            private_jwk,
            created_at: now,
            loaded: Instant::now(),
        })
    }
}
