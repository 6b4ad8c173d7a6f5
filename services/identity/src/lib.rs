//! The identity service: Better Auth's core endpoints (email and password, sessions, profile,
//! email verification, password reset, account deletion) under `/api/auth`.

pub mod domain;
pub mod error;
pub mod routes;

pub use domain::IdentityService;
pub use routes::configure;

/// What the `castellan` binary (and this service's own binary) mounts.
pub const MOUNTS: &[castellan_http::Mount] = &[configure];
