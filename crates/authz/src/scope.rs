//! Proofs: membership ([`OrgScope`]) and an allowed decision ([`Permit`]). Their fields are
//! private to this crate, so no other crate can make one without asking the [`crate::Authorizer`].

use castellan_data::entity::{member, organization};

use std::marker::PhantomData;
use std::sync::Arc;

use crate::grant::Grant;
use crate::permissions::CREATOR_ROLE;

/// The caller is a member of this organization: read from `member` on this request, or from
/// the replica's membership cache, which every membership change invalidates.
#[derive(Debug, Clone)]
pub struct OrgScope {
    pub(crate) organization: Arc<organization::Model>,
    pub(crate) member: Arc<member::Model>,
    pub(crate) roles: Arc<[String]>,
}

impl From<crate::memberships::Membership> for OrgScope {
    fn from(m: crate::memberships::Membership) -> Self {
        Self {
            organization: m.organization,
            member: m.member,
            roles: m.roles,
        }
    }
}

impl OrgScope {
    #[must_use]
    pub fn org_id(&self) -> &str {
        &self.organization.id
    }

    #[must_use]
    pub fn organization(&self) -> &organization::Model {
        &self.organization
    }

    #[must_use]
    pub fn member(&self) -> &member::Model {
        &self.member
    }

    #[must_use]
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    #[must_use]
    pub fn is_creator(&self) -> bool {
        self.roles.iter().any(|r| r == CREATOR_ROLE)
    }
}

/// casbin allowed `G`'s action on its resource for the caller in this organization.
#[derive(Debug)]
pub struct Permit<'a, G: Grant> {
    pub(crate) scope: &'a OrgScope,
    pub(crate) grant: PhantomData<G>,
}

impl<G: Grant> Permit<'_, G> {
    #[must_use]
    pub fn scope(&self) -> &OrgScope {
        self.scope
    }

    #[must_use]
    pub fn org_id(&self) -> &str {
        self.scope.org_id()
    }

    #[must_use]
    pub fn grants(&self) -> (&'static str, &'static str) {
        (G::RESOURCE, G::ACTION)
    }
}
