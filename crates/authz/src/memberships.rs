//! The replica's memory of memberships: (organization, user) → the member row and its roles, so
//! an org-scoped request pays no database query for the membership check.
//!
//! Correctness rests on invalidation, never on time: every change to a membership or to an
//! organization drops that organization's entries here and, through Redis pub/sub, on every
//! other replica, with the races closed as [`castellan_cache::Freshness`] describes.
//!
//! Non-members are not remembered, so a new membership needs no announcement.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use castellan_cache::Freshness;
use castellan_data::entity::{member, organization};

/// A committed change to an organization's memberships or to its row, which every replica must
/// hear of: the repository functions that make such changes return one, and the caller hands
/// it to [`crate::Authorizer::announce`] once its transaction has committed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "announce it with Authorizer::announce once the transaction has committed"]
pub struct MembershipChange {
    org_id: String,
}

impl MembershipChange {
    pub(crate) fn of(org_id: &str) -> Self {
        Self {
            org_id: org_id.to_owned(),
        }
    }

    #[must_use]
    pub fn org_id(&self) -> &str {
        &self.org_id
    }
}

/// A cached membership, shared by every request that hits it.
#[derive(Debug)]
pub(crate) struct Membership {
    pub(crate) organization: Arc<organization::Model>,
    pub(crate) member: Arc<member::Model>,
    pub(crate) roles: Arc<[String]>,
}

struct OrgMembers {
    organization: Arc<organization::Model>,
    members: HashMap<String, (Arc<member::Model>, Arc<[String]>)>,
    last_used: AtomicU64,
}

/// Bounded by the number of memberships held; past it, the least recently used quarter of the
/// organizations is dropped at once, which keeps eviction amortised O(log n) per insertion.
pub(crate) struct Memberships {
    orgs: RwLock<Held>,
    clock: AtomicU64,
    capacity: usize,
}

#[derive(Default)]
struct Held {
    orgs: HashMap<String, OrgMembers>,
    /// Memberships in `orgs`, kept as they come and go rather than summed on each insertion.
    count: usize,
}

impl Held {
    fn remove(&mut self, org_id: &str) {
        if let Some(gone) = self.orgs.remove(org_id) {
            self.count -= gone.members.len();
        }
    }

    fn evict_oldest_quarter(&mut self) {
        let mut by_age: Vec<(u64, String)> = self
            .orgs
            .iter()
            .map(|(id, o)| (o.last_used.load(Ordering::Relaxed), id.clone()))
            .collect();
        by_age.sort_unstable();
        let drop = by_age.len().div_ceil(4);
        for (_, id) in by_age.into_iter().take(drop) {
            self.remove(&id);
        }
    }
}

impl Memberships {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            orgs: RwLock::new(Held::default()),
            clock: AtomicU64::new(0),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn get(&self, org_id: &str, user_id: &str) -> Option<Membership> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let held = self.orgs.read().unwrap_or_else(PoisonError::into_inner);
        let org = held.orgs.get(org_id)?;
        let (member, roles) = org.members.get(user_id)?;
        org.last_used.store(tick, Ordering::Relaxed);
        Some(Membership {
            organization: org.organization.clone(),
            member: member.clone(),
            roles: roles.clone(),
        })
    }

    /// Stores a membership read from the database under `ticket`, unless an invalidation came
    /// in since (checked under the write lock, so no invalidation can slip in between).
    pub(crate) fn put(&self, freshness: &Freshness, ticket: u64, found: &Membership) {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut held = self.orgs.write().unwrap_or_else(PoisonError::into_inner);
        if !freshness.still(ticket) {
            return;
        }
        if held.count >= self.capacity {
            held.evict_oldest_quarter();
        }
        let Held { orgs, count } = &mut *held;
        let org = orgs
            .entry(found.organization.id.clone())
            .or_insert_with(|| OrgMembers {
                organization: found.organization.clone(),
                members: HashMap::new(),
                last_used: AtomicU64::new(tick),
            });
        org.last_used.store(tick, Ordering::Relaxed);
        let replaced = org.members.insert(
            found.member.user_id.clone(),
            (found.member.clone(), found.roles.clone()),
        );
        if replaced.is_none() {
            *count += 1;
        }
    }

    /// Drops an organization's memberships (the generation is bumped by the caller, under
    /// the same invalidation).
    pub(crate) fn forget(&self, org_id: &str) {
        self.orgs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(org_id);
    }

    pub(crate) fn clear(&self) {
        *self.orgs.write().unwrap_or_else(PoisonError::into_inner) = Held::default();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.orgs.read().unwrap_or_else(PoisonError::into_inner).count
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods, reason = "test rows need a time, any time")]
    use super::*;

    fn membership(org: &str, user: &str, role: &str) -> Membership {
        let now = chrono::Utc::now();
        Membership {
            organization: Arc::new(organization::Model {
                id: org.into(),
                name: org.into(),
                slug: org.into(),
                logo: None,
                created_at: now,
                metadata: None,
            }),
            member: Arc::new(member::Model {
                id: format!("{org}-{user}"),
                organization_id: org.into(),
                user_id: user.into(),
                role: role.into(),
                created_at: now,
            }),
            roles: vec![role.to_owned()].into(),
        }
    }

    #[test]
    fn a_load_that_started_before_an_invalidation_is_not_stored() {
        let freshness = Freshness::new(true);
        let cache = Memberships::new(10);
        let ticket = freshness.ticket();
        // The change commits and is announced while the load is reading the old row.
        freshness.bump();
        cache.forget("o1");
        cache.put(&freshness, ticket, &membership("o1", "u1", "owner"));
        assert!(cache.get("o1", "u1").is_none());
        // A load that starts after the announcement is stored.
        cache.put(&freshness, freshness.ticket(), &membership("o1", "u1", "member"));
        assert_eq!(
            cache.get("o1", "u1").map(|m| m.member.role.clone()).as_deref(),
            Some("member")
        );
    }

    #[test]
    fn nothing_is_stored_while_not_live() {
        let freshness = Freshness::new(false);
        let cache = Memberships::new(10);
        cache.put(&freshness, freshness.ticket(), &membership("o1", "u1", "owner"));
        assert_eq!(cache.len(), 0);
        freshness.set_live(true);
        cache.put(&freshness, freshness.ticket(), &membership("o1", "u1", "owner"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn forgetting_an_organization_leaves_the_others() {
        let freshness = Freshness::new(true);
        let cache = Memberships::new(10);
        for (org, user) in [("o1", "u1"), ("o1", "u2"), ("o2", "u1")] {
            cache.put(&freshness, freshness.ticket(), &membership(org, user, "member"));
        }
        cache.forget("o1");
        assert!(cache.get("o1", "u1").is_none() && cache.get("o1", "u2").is_none());
        assert!(cache.get("o2", "u1").is_some());
    }

    #[test]
    fn the_cache_stays_within_its_capacity_dropping_the_least_recently_used() {
        let freshness = Freshness::new(true);
        let cache = Memberships::new(8);
        for i in 0..8 {
            cache.put(
                &freshness,
                freshness.ticket(),
                &membership(&format!("o{i}"), "u", "member"),
            );
        }
        // o0 is used again, so o1 and o2 are the oldest when the ninth arrives.
        assert!(cache.get("o0", "u").is_some());
        cache.put(&freshness, freshness.ticket(), &membership("o8", "u", "member"));
        assert!(cache.len() <= 8);
        assert!(cache.get("o0", "u").is_some() && cache.get("o8", "u").is_some());
        assert!(cache.get("o1", "u").is_none() && cache.get("o2", "u").is_none());
    }
}
