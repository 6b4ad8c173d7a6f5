//! The decision point. Each organization gets its own small casbin enforcer (the built-in lines
//! plus that organization's custom roles), built on first use and kept in a bounded cache;
//! decisions are memoised per enforcer, since the set of (role, resource, action) is tiny.
//! Changing a custom role drops the organization's enforcer here and, through Redis pub/sub, on
//! every other replica. Memberships are remembered the same way ([`crate::memberships`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use casbin::{CoreApi, DefaultModel, Enforcer, Filter, MgmtApi};
use castellan_cache::{Cache, Freshness};
use castellan_data::entity::{member, organization};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::adapter::SeaOrmAdapter;
use crate::grant::Grant;
use crate::memberships::{Membership, MembershipChange, Memberships};
use crate::permissions::{Statements, split_roles};
use crate::scope::{OrgScope, Permit};
use crate::{BUILTIN_POLICY, MODEL};

/// Redis channel that carries organization ids whose policies changed.
pub const INVALIDATION_CHANNEL: &str = "authz:invalidate";
/// Redis channel that carries organization ids whose memberships (or own row) changed.
pub const MEMBERSHIP_CHANNEL: &str = "authz:members";

#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error("casbin: {0}")]
    Casbin(#[from] casbin::Error),
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("database: {0}")]
    Data(#[from] castellan_data::DataError),
    #[error("the policy files are invalid: {0}")]
    Policy(String),
}

/// Per role: (resource, action) → allowed, as casbin decided it when the organization loaded.
type DecisionTable = HashMap<String, HashMap<(&'static str, &'static str), bool>>;

struct OrgPolicy {
    decisions: DecisionTable,
    /// The organization requires SSO of its members (`castellan_sso_policy`), cached and
    /// invalidated with the casbin decisions so the guard reads no row per request.
    require_sso: bool,
}

impl OrgPolicy {
    /// A role this organization's policy does not name holds nothing: no policy line can match
    /// it (the model has no role links), which is what casbin answered for the known ones too.
    fn allows(&self, role: &str, resource: &'static str, action: &'static str) -> bool {
        self.decisions
            .get(role)
            .and_then(|t| t.get(&(resource, action)))
            .copied()
            .unwrap_or(false)
    }
}

struct Cached {
    policy: Arc<OrgPolicy>,
    last_used: AtomicU64,
}

pub struct Authorizer {
    db: DatabaseConnection,
    builtin: Vec<Vec<String>>,
    orgs: RwLock<HashMap<String, Cached>>,
    clock: AtomicU64,
    capacity: usize,
    cache: Option<Cache>,
    memberships: Memberships,
    freshness: Freshness,
}

/// Policy lines from a casbin CSV (`p, sub, dom, obj, act`).
fn parse_policy(csv: &str) -> Result<Vec<Vec<String>>, AuthzError> {
    csv.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let fields: Vec<String> = l.split(',').map(|f| f.trim().to_owned()).collect();
            match fields.split_first() {
                Some((p, rest)) if p == "p" && rest.len() == 4 => Ok(rest.to_vec()),
                _ => Err(AuthzError::Policy(format!("bad policy line {l:?}"))),
            }
        })
        .collect()
}

fn all_statements() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    crate::permissions::STATEMENTS
        .into_iter()
        .chain(crate::permissions::ADMIN_STATEMENTS)
}

/// Resources and actions are `'static` in decisions; map request strings onto the vocabulary.
fn vocabulary(resource: &str, action: &str) -> Option<(&'static str, &'static str)> {
    all_statements()
        .find(|(r, _)| *r == resource)
        .and_then(|(r, acts)| acts.iter().find(|a| **a == action).map(|a| (r, *a)))
}

impl Authorizer {
    /// Keeps at most `capacity` organizations' policies and `memberships` memberships. With a
    /// shared `cache` (Redis), nothing is cached until [`Authorizer::subscribed`] says this
    /// replica hears the others' announcements.
    ///
    /// # Errors
    /// Invalid built-in policy files.
    pub fn new(
        db: DatabaseConnection,
        cache: Option<Cache>,
        capacity: usize,
        memberships: usize,
    ) -> Result<Self, AuthzError> {
        Ok(Self {
            db,
            builtin: parse_policy(BUILTIN_POLICY)?,
            orgs: RwLock::new(HashMap::new()),
            clock: AtomicU64::new(0),
            capacity: capacity.max(1),
            freshness: Freshness::new(cache.is_none()),
            cache,
            memberships: Memberships::new(memberships),
        })
    }

    async fn policy(&self, org_id: &str) -> Result<Arc<OrgPolicy>, AuthzError> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        if self.freshness.live()
            && let Some(c) = self
                .orgs
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(org_id)
        {
            c.last_used.store(tick, Ordering::Relaxed);
            castellan_metrics::cache_lookup(&castellan_metrics::POLICY_CACHE, true);
            return Ok(c.policy.clone());
        }
        castellan_metrics::cache_lookup(&castellan_metrics::POLICY_CACHE, false);
        let ticket = self.freshness.ticket();
        let policy = Arc::new(self.load(org_id).await?);
        let mut map = self.orgs.write().unwrap_or_else(PoisonError::into_inner);
        if !self.freshness.still(ticket) {
            return Ok(policy);
        }
        if map.len() >= self.capacity
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| c.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            org_id.to_owned(),
            Cached {
                policy: policy.clone(),
                last_used: AtomicU64::new(tick),
            },
        );
        Ok(policy)
    }

    async fn load(&self, org_id: &str) -> Result<OrgPolicy, AuthzError> {
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new(model, SeaOrmAdapter::new(self.db.clone())).await?;
        enforcer
            .load_filtered_policy(Filter {
                p: vec!["", org_id],
                g: vec![],
            })
            .await?;
        // Built-in lines go into this enforcer's memory only; they live in policies/, not the DB.
        enforcer.enable_auto_save(false);
        enforcer.add_policies(self.builtin.clone()).await?;
        // Every role this organization's policy names, asked once about every action: a
        // decision is then a table lookup. casbin remains the authority: it filled the table.
        let mut decisions: DecisionTable = HashMap::new();
        for role in enforcer.get_all_subjects() {
            let table = decisions.entry(role.clone()).or_default();
            // The platform domain decides admin statements; organizations decide their own.
            let statements: &[(&str, &[&str])] = if org_id == crate::permissions::PLATFORM {
                &crate::permissions::ADMIN_STATEMENTS
            } else {
                &crate::permissions::STATEMENTS
            };
            for (resource, actions) in statements.iter().copied() {
                for action in actions {
                    table.insert(
                        (resource, *action),
                        enforcer.enforce((role.as_str(), org_id, resource, *action))?,
                    );
                }
            }
        }
        let require_sso = castellan_data::repo::sso_providers::requires_sso(&self.db, org_id).await?;
        Ok(OrgPolicy {
            decisions,
            require_sso,
        })
    }

    /// Whether the organization requires SSO of its members, as last loaded (changes call
    /// [`Authorizer::invalidate`]).
    ///
    /// # Errors
    /// Loading the organization's policy failed.
    pub async fn requires_sso(&self, org_id: &str) -> Result<bool, AuthzError> {
        Ok(self.policy(org_id).await?.require_sso)
    }

    /// Whether any one of `roles` is granted every (resource, action) in `wanted`: Better Auth's
    /// rule. An empty request, or one naming unknown resources or actions, is denied.
    ///
    /// # Errors
    /// Loading the organization's policies failed.
    pub async fn allows(
        &self,
        org_id: &str,
        roles: &[String],
        wanted: &Statements,
    ) -> Result<bool, AuthzError> {
        let mut pairs = Vec::new();
        for (resource, actions) in wanted {
            if actions.is_empty() {
                return Ok(false);
            }
            for action in actions {
                let Some(pair) = vocabulary(resource, action) else {
                    return Ok(false);
                };
                pairs.push(pair);
            }
        }
        if pairs.is_empty() {
            return Ok(false);
        }
        let policy = self.policy(org_id).await?;
        for role in roles {
            let mut all = true;
            for (resource, action) in &pairs {
                if !policy.allows(role, resource, action) {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The membership check, read from `db` (a transaction sees its own writes): `Some(scope)`
    /// when `user_id` is a member of `org_id`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn scope(
        &self,
        db: &impl ConnectionTrait,
        org_id: &str,
        user_id: &str,
    ) -> Result<Option<OrgScope>, AuthzError> {
        Ok(read_membership(db, org_id, user_id).await?.map(OrgScope::from))
    }

    /// The membership check for a request: from this replica's membership cache, else from the
    /// database (and then remembered).
    ///
    /// # Errors
    /// Database failures.
    pub async fn cached_scope(&self, org_id: &str, user_id: &str) -> Result<Option<OrgScope>, AuthzError> {
        if self.freshness.live()
            && let Some(hit) = self.memberships.get(org_id, user_id)
        {
            castellan_metrics::cache_lookup(&castellan_metrics::MEMBERSHIP_CACHE, true);
            return Ok(Some(OrgScope::from(hit)));
        }
        castellan_metrics::cache_lookup(&castellan_metrics::MEMBERSHIP_CACHE, false);
        let ticket = self.freshness.ticket();
        let Some(found) = read_membership(&self.db, org_id, user_id).await? else {
            return Ok(None);
        };
        self.memberships.put(&self.freshness, ticket, &found);
        Ok(Some(OrgScope::from(found)))
    }

    /// Tells this replica and every other one that `change` committed: the organization's
    /// memberships are read again from the database on their next use. Call it after the
    /// transaction that made the change has committed.
    pub async fn announce(&self, change: MembershipChange) {
        self.forget_memberships(change.org_id());
        if let Some(cache) = &self.cache
            && let Err(e) = cache.announce(MEMBERSHIP_CHANNEL, change.org_id()).await
        {
            tracing::error!(error = %e, "could not broadcast a membership change");
        }
    }

    /// [`Authorizer::announce`] for each organization `changes` touch, once: a SCIM group
    /// change remaps many members of one organization, and each announcement waits for every
    /// replica's confirmation.
    pub async fn announce_all(&self, changes: impl IntoIterator<Item = MembershipChange>) {
        let mut seen = std::collections::HashSet::new();
        for change in changes {
            if seen.insert(change.org_id().to_owned()) {
                self.announce(change).await;
            }
        }
    }

    /// Drops an organization's memberships from this process's cache.
    pub fn forget_memberships(&self, org_id: &str) {
        self.freshness.bump();
        self.memberships.forget(org_id);
    }

    /// Whether this replica hears the other replicas' announcements. While it does not (the
    /// Redis subscription is down or reconnecting), it caches nothing; either way it starts
    /// again from empty, since announcements may have been missed.
    pub fn subscribed(&self, live: bool) {
        self.freshness.set_live(live);
        self.memberships.clear();
        self.orgs.write().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// An announcement from another replica on `channel`.
    pub fn heard(&self, channel: &str, org_id: &str) {
        match channel {
            INVALIDATION_CHANNEL => self.forget(org_id),
            MEMBERSHIP_CHANNEL => self.forget_memberships(org_id),
            _ => {}
        }
    }

    /// A casbin decision for the scope's roles; `None` when denied.
    ///
    /// # Errors
    /// Loading the organization's policies failed.
    pub async fn permit<'s, G: Grant>(
        &self,
        scope: &'s OrgScope,
    ) -> Result<Option<Permit<'s, G>>, AuthzError> {
        let wanted: Statements = [(G::RESOURCE.to_owned(), vec![G::ACTION.to_owned()])].into();
        Ok(self
            .allows(scope.org_id(), scope.roles(), &wanted)
            .await?
            .then_some(Permit {
                scope,
                grant: std::marker::PhantomData,
            }))
    }

    /// Stores a custom role's grants as casbin lines and reloads the organization everywhere.
    ///
    /// # Errors
    /// Database failures.
    pub async fn set_custom_role(
        &self,
        org_id: &str,
        role: &str,
        grant: &Statements,
    ) -> Result<(), AuthzError> {
        use casbin::Adapter as _;
        let mut adapter = SeaOrmAdapter::new(self.db.clone());
        adapter
            .remove_filtered_policy("p", "p", 0, vec![role.to_owned(), org_id.to_owned()])
            .await?;
        let lines: Vec<Vec<String>> = grant
            .iter()
            .flat_map(|(res, acts)| {
                acts.iter()
                    .map(move |a| vec![role.to_owned(), org_id.to_owned(), res.clone(), a.clone()])
            })
            .collect();
        adapter.add_policies("p", "p", lines).await?;
        self.invalidate(org_id).await;
        Ok(())
    }

    /// An organization API key's own role, granted `grants` in its organization only.
    ///
    /// # Errors
    /// Database failures.
    pub async fn grant_api_key(
        &self,
        org_id: &str,
        key_id: &str,
        grants: &Statements,
    ) -> Result<(), AuthzError> {
        self.set_custom_role(org_id, &api_key_role(key_id), grants).await
    }

    /// Whether an organization API key's role is granted every action in `wanted` there.
    ///
    /// # Errors
    /// Loading the organization's policies failed.
    pub async fn api_key_allows(
        &self,
        org_id: &str,
        key_id: &str,
        wanted: &Statements,
    ) -> Result<bool, AuthzError> {
        self.allows(org_id, &[api_key_role(key_id)], wanted).await
    }

    /// Removes an organization API key's role.
    ///
    /// # Errors
    /// Database failures.
    pub async fn revoke_api_key(&self, org_id: &str, key_id: &str) -> Result<(), AuthzError> {
        self.remove_custom_role(org_id, &api_key_role(key_id)).await
    }

    /// Removes a custom role's casbin lines.
    ///
    /// # Errors
    /// Database failures.
    pub async fn remove_custom_role(&self, org_id: &str, role: &str) -> Result<(), AuthzError> {
        use casbin::Adapter as _;
        let mut adapter = SeaOrmAdapter::new(self.db.clone());
        adapter
            .remove_filtered_policy("p", "p", 0, vec![role.to_owned(), org_id.to_owned()])
            .await?;
        self.invalidate(org_id).await;
        Ok(())
    }

    /// Drops the organization's enforcer here and tells the other replicas to do the same.
    pub async fn invalidate(&self, org_id: &str) {
        self.forget(org_id);
        if let Some(cache) = &self.cache
            && let Err(e) = cache.announce(INVALIDATION_CHANNEL, org_id).await
        {
            tracing::error!(error = %e, "could not broadcast a policy change");
        }
    }

    /// Drops the organization's enforcer from this process's cache.
    pub fn forget(&self, org_id: &str) {
        self.freshness.bump();
        self.orgs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(org_id);
    }

    /// How many organizations' enforcers are cached (for tests and metrics).
    #[must_use]
    pub fn cached_orgs(&self) -> usize {
        self.orgs.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One indexed query: the membership row joined to its organization.
async fn read_membership(
    db: &impl ConnectionTrait,
    org_id: &str,
    user_id: &str,
) -> Result<Option<Membership>, AuthzError> {
    let found = member::Entity::find()
        .filter(member::Column::OrganizationId.eq(org_id))
        .filter(member::Column::UserId.eq(user_id))
        .find_also_related(organization::Entity)
        .one(db)
        .await?;
    Ok(found.and_then(|(member, organization)| {
        organization.map(|organization| Membership {
            roles: split_roles(&member.role).into(),
            organization: Arc::new(organization),
            member: Arc::new(member),
        })
    }))
}

/// Role names of this shape belong to organization API keys, never to members.
pub const API_KEY_ROLE_PREFIX: &str = "apikey:";

/// The casbin role of the organization API key `key_id`.
#[must_use]
pub fn api_key_role(key_id: &str) -> String {
    format!("{API_KEY_ROLE_PREFIX}{key_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_policy_file_parses() {
        let lines = parse_policy(BUILTIN_POLICY).unwrap();
        assert!(
            lines
                .iter()
                .all(|l| l.len() == 4 && (l[1] == "*" || l[1] == "platform"))
        );
        assert!(lines.contains(&vec!["member".into(), "*".into(), "ac".into(), "read".into()]));
        assert!(parse_policy("g, a, b, c").is_err());
    }
}
