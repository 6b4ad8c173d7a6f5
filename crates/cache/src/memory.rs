//! The in-process store: a bounded map with per-entry expiry, for single-instance deployments.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::{RateDecision, decision};

pub struct MemoryStore {
    capacity: usize,
    values: RwLock<HashMap<String, (Instant, String)>>,
    counters: Mutex<HashMap<String, (Instant, u64)>>,
}

impl MemoryStore {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            values: RwLock::default(),
            counters: Mutex::default(),
        }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        let values = self.values.read().unwrap_or_else(PoisonError::into_inner);
        values
            .get(key)
            .filter(|(expires, _)| *expires > Instant::now())
            .map(|(_, v)| v.clone())
    }

    pub fn set(&self, key: &str, value: &str, ttl: Duration) {
        let now = Instant::now();
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        if values.len() >= self.capacity {
            values.retain(|_, (expires, _)| *expires > now);
            if values.len() >= self.capacity {
                // Still full of live entries: drop them all. This is a cache; the database answers.
                values.clear();
            }
        }
        values.insert(key.to_owned(), (now + ttl, value.to_owned()));
    }

    pub fn delete(&self, keys: &[String]) {
        let mut values = self.values.write().unwrap_or_else(PoisonError::into_inner);
        for k in keys {
            values.remove(k);
        }
    }

    pub fn hit(&self, key: &str, window: Duration, max: u32) -> RateDecision {
        let now = Instant::now();
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if counters.len() >= self.capacity {
            counters.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = counters.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        let remaining = window.saturating_sub(now.duration_since(entry.0));
        decision(entry.1, remaining, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire() {
        let s = MemoryStore::new(10);
        s.set("a", "1", Duration::from_secs(60));
        s.set("b", "2", Duration::ZERO);
        assert_eq!(s.get("a").as_deref(), Some("1"));
        assert_eq!(s.get("b"), None);
        s.delete(&["a".to_owned()]);
        assert_eq!(s.get("a"), None);
    }

    #[test]
    fn fourth_hit_in_a_window_of_three_is_refused() {
        let s = MemoryStore::new(10);
        let w = Duration::from_secs(10);
        let results: Vec<bool> = (0..4).map(|_| s.hit("k", w, 3).allowed).collect();
        assert_eq!(results, [true, true, true, false]);
        let refused = s.hit("k", w, 3);
        assert!((1..=10).contains(&refused.retry_after_secs));
        assert!(s.hit("other", w, 3).allowed);
    }

    #[test]
    fn capacity_is_bounded() {
        let s = MemoryStore::new(2);
        for i in 0..10 {
            s.set(&i.to_string(), "v", Duration::from_secs(60));
        }
        assert!(s.values.read().unwrap().len() <= 2);
    }
}
