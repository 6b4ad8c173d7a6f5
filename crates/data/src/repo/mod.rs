//! Repositories: one module per aggregate.

pub mod accounts;
pub mod events;
pub mod invitations;
pub mod mail_outbox;
pub mod organizations;
pub mod passkeys;
pub mod scim;
pub mod sealed;
pub mod sessions;
pub mod sso_providers;
pub mod users;
pub mod verifications;
pub mod webhooks;
