//! sea-orm entities for Better Auth's tables, column for column, and Castellan's own
//! `castellan_*` tables. Column names are Better Auth's camelCase names; Rust fields are snake_case.

pub mod account;
pub mod api_key;
pub mod audit_log;
pub mod casbin_rule;
pub mod event;
pub mod invitation;
pub mod jwks;
pub mod mail_outbox;
pub mod member;
pub mod organization;
pub mod organization_role;
pub mod passkey;
pub mod saml_assertion;
pub mod scim_connection;
pub mod scim_group;
pub mod scim_group_member;
pub mod scim_user;
pub mod session;
pub mod sso_policy;
pub mod sso_provider;
pub mod sso_provisioning;
pub mod team;
pub mod team_member;
pub mod two_factor;
pub mod user;
pub mod verification;
pub mod webhook_delivery;
pub mod webhook_endpoint;
