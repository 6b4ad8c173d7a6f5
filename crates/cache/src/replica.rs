//! What one replica may remember of shared state, and the rules that keep it exact: a replica's
//! copy is dropped when any replica announces a change (Redis pub/sub), never on a timer.
//!
//! Two races are closed here for every such cache:
//! - a load that read the shared store before a change was announced must not store what it
//!   read after the announcement: every announcement bumps a generation, and a load stores its
//!   value only if the generation it started under is still current ([`Freshness::ticket`],
//!   [`Freshness::still`]);
//! - a replica that is not subscribed (Redis down, the subscription reconnecting) could miss
//!   an announcement: while not [`Freshness::live`], nothing is read from or stored in the cache,
//!   and it is emptied when the subscription comes back.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

/// Whether a replica's caches may be used, and the generation that orders loads against
/// announcements.
#[derive(Debug)]
pub struct Freshness {
    live: AtomicBool,
    generation: AtomicU64,
}

impl Freshness {
    /// `live` is false for a replica that shares its store and must first subscribe.
    #[must_use]
    pub fn new(live: bool) -> Self {
        Self {
            live: AtomicBool::new(live),
            generation: AtomicU64::new(0),
        }
    }

    #[must_use]
    pub fn live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// The subscription started (again) or was lost. Either way, what loads are in flight must
    /// not be stored.
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
        self.bump();
    }

    /// The generation a load starts under; see [`Freshness::still`].
    #[must_use]
    pub fn ticket(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// No announcement came since `ticket` was taken, and the cache is live.
    #[must_use]
    pub fn still(&self, ticket: u64) -> bool {
        self.live() && self.generation.load(Ordering::Acquire) == ticket
    }

    /// An announcement: loads in flight must not be stored.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// A bounded map for a replica's copies, evicting the oldest insertions first.
pub struct ReplicaMap<V> {
    inner: RwLock<Inner<V>>,
    capacity: usize,
}

struct Inner<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V: Clone> ReplicaMap<V> {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: RwLock::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
            }),
            capacity: capacity.max(1),
        }
    }

    /// The copy of `key`, when the cache is live.
    #[must_use]
    pub fn get(&self, freshness: &Freshness, key: &str) -> Option<V> {
        if !freshness.live() {
            return None;
        }
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .get(key)
            .cloned()
    }

    /// Stores a copy loaded under `ticket`, unless an announcement came since (checked under
    /// the write lock, so none can slip in between).
    pub fn put(&self, freshness: &Freshness, ticket: u64, key: &str, value: V) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if !freshness.still(ticket) {
            return;
        }
        if let Some(slot) = inner.map.get_mut(key) {
            *slot = value;
            return;
        }
        while inner.map.len() >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.map.remove(&oldest);
        }
        inner.map.insert(key.to_owned(), value);
        inner.order.push_back(key.to_owned());
        // Keys removed by announcements stay in `order` until evicted; keep it bounded.
        if inner.order.len() > 2 * self.capacity {
            let Inner { map, order } = &mut *inner;
            order.retain(|k| map.contains_key(k));
        }
    }

    /// Drops `keys` (the generation is bumped by the caller, under the same announcement).
    pub fn remove(&self, keys: &[String]) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            inner.map.remove(key);
        }
    }

    pub fn clear(&self) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.map.clear();
        inner.order.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_that_started_before_an_announcement_is_not_stored() {
        let freshness = Freshness::new(true);
        let map = ReplicaMap::new(4);
        let ticket = freshness.ticket();
        freshness.bump();
        map.put(&freshness, ticket, "k", 1);
        assert_eq!(map.get(&freshness, "k"), None);
        map.put(&freshness, freshness.ticket(), "k", 2);
        assert_eq!(map.get(&freshness, "k"), Some(2));
    }

    #[test]
    fn nothing_is_read_or_stored_while_not_live() {
        let freshness = Freshness::new(true);
        let map = ReplicaMap::new(4);
        map.put(&freshness, freshness.ticket(), "k", 1);
        freshness.set_live(false);
        assert_eq!(map.get(&freshness, "k"), None);
        map.put(&freshness, freshness.ticket(), "j", 1);
        freshness.set_live(true);
        assert_eq!(map.get(&freshness, "j"), None);
    }

    #[test]
    fn the_oldest_insertions_go_first_and_the_bound_holds() {
        let freshness = Freshness::new(true);
        let map = ReplicaMap::new(3);
        for (i, k) in ["a", "b", "c", "d"].into_iter().enumerate() {
            map.put(&freshness, freshness.ticket(), k, i);
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&freshness, "a"), None);
        assert_eq!(map.get(&freshness, "d"), Some(3));
        // Removals and re-insertions keep the bookkeeping bounded.
        for _ in 0..100 {
            map.remove(&["d".to_owned()]);
            map.put(&freshness, freshness.ticket(), "d", 9);
        }
        assert_eq!(map.len(), 3);
    }
}
