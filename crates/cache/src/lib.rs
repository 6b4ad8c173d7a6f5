//! Short-lived shared state: the session cache and rate-limit counters.
//!
//! With `REDIS_URL` set everything lives in Redis, so every replica sees the same counters and a
//! revocation is visible to all of them at once. Without it, an in-process store is used. Keys
//! are namespaced with a configurable prefix.

mod memory;
mod redis_store;
mod replica;

use std::sync::Arc;
use std::time::Duration;

pub use memory::MemoryStore;
pub use redis_store::RedisStore;
pub use replica::{Freshness, ReplicaMap};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

pub type CacheResult<T> = Result<T, CacheError>;

/// The answer of a fixed-window rate-limit counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Whole seconds until the window resets (at least 1 when refused).
    pub retry_after_secs: u64,
}

/// The receiving end of [`Cache::subscribe`].
pub trait Subscriber: Send + Sync {
    /// `message` was published on `channel` (named as given to `subscribe`).
    fn message(&self, channel: &str, message: &str);
    /// `true`: subscribed (again), from now on every message arrives; `false`: the subscription
    /// is lost and messages may be missed until it is back.
    fn connected(&self, live: bool);
}

#[derive(Clone)]
pub enum Cache {
    Memory(Arc<MemoryStore>),
    Redis(Arc<RedisStore>),
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl Cache {
    /// Redis when a URL is given, else the in-process store.
    ///
    /// # Errors
    /// A Redis URL that cannot be parsed or a server that does not answer.
    pub async fn connect(redis_url: Option<&str>, prefix: &str) -> CacheResult<Self> {
        match redis_url {
            Some(url) => Ok(Self::Redis(Arc::new(RedisStore::connect(url, prefix).await?))),
            None => Ok(Self::memory()),
        }
    }

    #[must_use]
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::new(100_000)))
    }

    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis(_) => "redis",
        }
    }

    /// Whether the store answers: always for the in-process one, a `PING` for Redis.
    ///
    /// # Errors
    /// Redis failures.
    pub async fn ping(&self) -> CacheResult<()> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(r) => r.ping().await,
        }
    }

    /// # Errors
    /// Redis failures.
    pub async fn get(&self, key: &str) -> CacheResult<Option<String>> {
        match self {
            Self::Memory(m) => Ok(m.get(key)),
            Self::Redis(r) => r.get(key).await,
        }
    }

    /// # Errors
    /// Redis failures.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<()> {
        match self {
            Self::Memory(m) => {
                m.set(key, value, ttl);
                Ok(())
            }
            Self::Redis(r) => r.set(key, value, ttl).await,
        }
    }

    /// # Errors
    /// Redis failures.
    pub async fn delete(&self, keys: &[String]) -> CacheResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        match self {
            Self::Memory(m) => {
                m.delete(keys);
                Ok(())
            }
            Self::Redis(r) => r.delete(keys).await,
        }
    }

    /// Counts one request against `key` in a fixed window of `window` that starts with the
    /// window's first request; more than `max` requests in it are refused. Atomic across replicas.
    ///
    /// # Errors
    /// Redis failures.
    pub async fn hit(&self, key: &str, window: Duration, max: u32) -> CacheResult<RateDecision> {
        match self {
            Self::Memory(m) => Ok(m.hit(key, window, max)),
            Self::Redis(r) => r.hit(key, window, max).await,
        }
    }
}

impl Cache {
    /// Broadcasts `message` to every replica's subscribers of `channel`, and returns once each
    /// replica that received it has handled it (or after half a second, logged): a change
    /// announced before it is answered is then seen by the very next request anywhere. No-op
    /// in process.
    ///
    /// # Errors
    /// Redis failures.
    pub async fn announce(&self, channel: &str, message: &str) -> CacheResult<()> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(r) => r.announce(channel, message).await,
        }
    }

    /// Messages published on `channels` by any replica, delivered to `subscriber`, which is
    /// told when the subscription starts and when it is lost (messages sent meanwhile are
    /// gone); reconnects with a pause, for ever. Returns at once for the in-process store.
    pub async fn subscribe(&self, channels: &[&'static str], subscriber: &dyn Subscriber) {
        if let Self::Redis(r) = self {
            r.subscribe(channels, subscriber).await;
        }
    }
}

fn decision(count: u64, remaining: Duration, max: u32) -> RateDecision {
    let secs = remaining.as_millis().div_ceil(1000);
    RateDecision {
        allowed: count <= u64::from(max),
        retry_after_secs: u64::try_from(secs).unwrap_or(u64::MAX).max(1),
    }
}
