//! The Redis store, shared by every replica.

use std::time::Duration;

use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{CacheResult, RateDecision, decision};

/// INCR and start the window's expiry on its first hit, in one atomic step.
const HIT_SCRIPT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
";

/// How long an announcement waits for every subscribed replica to confirm it has acted on it.
const ANNOUNCE_WAIT: Duration = Duration::from_millis(500);

/// A token no other announcement (from any replica) carries.
fn nonce() -> String {
    use std::hash::BuildHasher as _;
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEED: LazyLock<u64> =
        LazyLock::new(|| std::collections::hash_map::RandomState::new().hash_one(0u8));
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{:016x}{:x}", *SEED, COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    hit_script: redis::Script,
}

impl RedisStore {
    /// # Errors
    /// A bad URL or an unreachable server.
    pub async fn connect(url: &str, prefix: &str) -> CacheResult<Self> {
        let client = redis::Client::open(url)?;
        // Few retries: a missing server should fail start-up quickly, not back off for minutes.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            hit_script: redis::Script::new(HIT_SCRIPT),
        })
    }

    pub(crate) async fn ping(&self) -> CacheResult<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(crate) async fn get(&self, key: &str) -> CacheResult<Option<String>> {
        Ok(self.conn.clone().get(self.key(key)).await?)
    }

    pub(crate) async fn set(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<()> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let () = self.conn.clone().pset_ex(self.key(key), value, ms).await?;
        Ok(())
    }

    pub(crate) async fn delete(&self, keys: &[String]) -> CacheResult<()> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let _: u64 = self.conn.clone().del(keys).await?;
        Ok(())
    }

    /// Publishes `message` and waits (at most [`ANNOUNCE_WAIT`]) until every replica that
    /// received it has confirmed handling it: each subscriber pushes to a list named by the
    /// announcement's nonce once its handler returned.
    pub(crate) async fn announce(&self, channel: &str, message: &str) -> CacheResult<()> {
        let nonce = nonce();
        let acks = self.key(&format!("ack:{nonce}"));
        let receivers: u64 = self
            .conn
            .clone()
            .publish(self.key(channel), format!("{nonce} {message}"))
            .await?;
        if receivers == 0 {
            return Ok(());
        }
        // The change is made and announced: from here on a failure only shortens the wait.
        let confirmed = self.confirmations(&acks, receivers).await;
        let _: Result<u64, _> = self.conn.clone().del(&acks).await;
        if confirmed < receivers {
            tracing::warn!(
                channel,
                receivers,
                confirmed,
                "not every replica confirmed an announcement in time"
            );
        }
        Ok(())
    }

    /// How many of `receivers` confirmed on `acks` within [`ANNOUNCE_WAIT`].
    async fn confirmations(&self, acks: &str, receivers: u64) -> u64 {
        // A connection of its own: a blocking pop would hold up every command queued behind it
        // on the shared one.
        let mut waiting = match self.client.get_multiplexed_async_connection().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not wait for confirmations");
                return 0;
            }
        };
        let deadline = tokio::time::Instant::now() + ANNOUNCE_WAIT;
        let mut confirmed = 0;
        while confirmed < receivers {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match waiting
                .blpop::<_, Option<(String, String)>>(acks, left.as_secs_f64())
                .await
            {
                Ok(Some(_)) => confirmed += 1,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "waiting for confirmations failed");
                    break;
                }
            }
        }
        confirmed
    }

    /// Confirms an announcement's handling to the replica waiting for it.
    async fn confirm(&self, nonce: &str) {
        let acks = self.key(&format!("ack:{nonce}"));
        let pushed: Result<(), redis::RedisError> = redis::pipe()
            .rpush(&acks, 1)
            .ignore()
            .expire(&acks, 10)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await;
        if let Err(e) = pushed {
            tracing::warn!(error = %e, "could not confirm an announcement");
        }
    }

    pub(crate) async fn subscribe(&self, channels: &[&'static str], subscriber: &dyn crate::Subscriber) {
        use futures_util::StreamExt as _;
        let names: Vec<(String, &'static str)> = channels.iter().map(|c| (self.key(c), *c)).collect();
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    let mut subscribed = true;
                    for (key, _) in &names {
                        subscribed &= pubsub.subscribe(key).await.is_ok();
                    }
                    if subscribed {
                        subscriber.connected(true);
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            let channel = names
                                .iter()
                                .find(|(key, _)| key == msg.get_channel_name())
                                .map(|(_, name)| *name);
                            let Some(channel) = channel else { continue };
                            let Ok(text) = msg.get_payload::<String>() else {
                                continue;
                            };
                            match text.split_once(' ') {
                                Some((nonce, message)) => {
                                    subscriber.message(channel, message);
                                    self.confirm(nonce).await;
                                }
                                None => subscriber.message(channel, &text),
                            }
                        }
                        subscriber.connected(false);
                        tracing::warn!("pub/sub connection lost; reconnecting");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "pub/sub connection failed; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    pub(crate) async fn hit(&self, key: &str, window: Duration, max: u32) -> CacheResult<RateDecision> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let (count, ttl_ms): (u64, i64) = self
            .hit_script
            .key(self.key(key))
            .arg(window_ms)
            .invoke_async(&mut self.conn.clone())
            .await?;
        let remaining = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(window_ms));
        Ok(decision(count, remaining, max))
    }
}
