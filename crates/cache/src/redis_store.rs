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

    pub(crate) async fn publish(&self, channel: &str, message: &str) -> CacheResult<()> {
        let _: i64 = self.conn.clone().publish(self.key(channel), message).await?;
        Ok(())
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
                            if let (Some(channel), Ok(text)) = (channel, msg.get_payload::<String>()) {
                                subscriber.message(channel, &text);
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
