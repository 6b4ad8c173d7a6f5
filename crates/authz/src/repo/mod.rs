//! Organization-scoped persistence. Every function takes an [`OrgScope`] (the caller is a
//! member) or a [`Permit`] (casbin allowed the action), and filters by that organization, so
//! reaching another tenant's rows through these functions is impossible by construction.

mod invitations;
mod members;
mod organizations;
mod roles;
mod sso;
mod teams;

pub use invitations::*;
pub use members::*;
pub use organizations::*;
pub use roles::*;
pub use sso::*;
pub use teams::*;

/// The most rows one page returns.
pub const MAX_PAGE: u64 = 1_000;
/// Offsets beyond this are empty anyway; the bound keeps them inside SQL's signed integers.
pub const MAX_OFFSET: u64 = i64::MAX as u64;
