//! sea-orm entities for Better Auth's tables, column for column. Column names are Better Auth's
//! camelCase names; Rust fields are snake_case.

pub mod account;
pub mod session;
pub mod user;
pub mod verification;
