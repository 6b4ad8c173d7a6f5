//! The SSO service: Better Auth's SSO plugin (per-organization OIDC and SAML connections, domain
//! verification by DNS TXT, just-in-time provisioning) under `/api/auth/sso` and
//! `/api/auth/sign-in/sso`. Connections are managed under the organization's casbin authority
//! (resource `sso`); every change, verification and login lands in the organization's audit log.

pub mod certificates;
pub mod dns;
pub mod domain;
pub mod error;
pub mod provider;
pub mod routes;
pub mod saml;
pub mod scim;

pub use domain::SsoService;
pub use routes::configure;

/// What the `castellan` binary (and this service's own binary) mounts.
pub const MOUNTS: &[castellan_http::Mount] = &[configure];
