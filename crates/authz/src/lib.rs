//! Castellan's authorization authority for organizations: casbin, with the model and built-in
//! roles from `policies/`, custom roles from the database through a sea-orm adapter, one small
//! enforcer per organization loaded on demand into a bounded cache, and the org-scope guard.
//!
//! An [`OrgScope`] proves the caller is a member of the organization; only [`Authorizer::scope`]
//! makes one. A [`Permit`] proves a casbin decision allowed an action; only
//! [`Authorizer::permit`] makes one. The org-scoped repositories in [`repo`] take one or the
//! other, so an unchecked org-scoped query cannot be written.

pub mod adapter;
pub mod admission;
mod authorizer;
pub mod grant;
mod memberships;
pub mod notices;
pub mod permissions;
pub mod repo;
mod scope;
pub mod sso;

pub use authorizer::{
    API_KEY_ROLE_PREFIX, Authorizer, AuthzError, INVALIDATION_CHANNEL, MEMBERSHIP_CHANNEL, api_key_role,
};
pub use memberships::MembershipChange;
pub use permissions::{BUILTIN_ROLES, CREATOR_ROLE, Statements};
pub use scope::{OrgScope, Permit};
pub use sso::SessionAdmission;

/// The casbin model (`policies/model.conf`).
pub const MODEL: &str = include_str!("../../../policies/model.conf");
/// The built-in roles' policy lines (`policies/roles.csv`).
pub const BUILTIN_POLICY: &str = include_str!("../../../policies/roles.csv");
