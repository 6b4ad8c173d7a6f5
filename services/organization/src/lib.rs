//! The organization service: Better Auth's organization plugin (organizations, members,
//! invitations, teams, dynamic access control) under `/api/auth/organization`, with casbin
//! deciding every org-scoped action, plus Castellan's hash-chained audit log.

pub mod domain;
pub mod error;
pub mod routes;
mod views;

pub use domain::OrganizationService;
pub use routes::configure;

/// What the `castellan` binary (and this service's own binary) mounts.
pub const MOUNTS: &[castellan_http::Mount] = &[configure];
