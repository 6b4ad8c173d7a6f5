//! Repositories: one module per aggregate.

pub mod accounts;
pub mod sessions;
pub mod users;
pub mod verifications;
