//! Castellan's schema migrations.
//!
//! Better Auth's tables are created exactly as Better Auth 1.7.25's own migrator creates them
//! (same names, camelCase columns, ISO-8601 text dates on SQLite, `timestamptz` on Postgres), and
//! only if they are missing, so an existing Better Auth database is used in place. Columns that
//! an older Better Auth database lacks are added. Castellan's own tables get `castellan_` names.
//! Applied migrations are never edited: add a new one.

use sea_orm_migration::prelude::*;

mod m20261130_000001_create_better_auth_core;
mod m20261130_000002_create_organizations;
mod m20261130_000003_create_jwks;
mod m20261130_000004_create_two_factor;
mod m20261130_000005_create_api_keys;
mod m20261130_000006_create_sso_providers;
mod m20261203_000007_create_mail_outbox;
mod m20261204_000008_session_authentication;
mod m20261204_000009_create_passkey;
mod m20261204_000010_create_sso_policy;
mod m20261206_000011_create_webhooks;
mod m20261207_000012_create_scim;
mod m20261207_000013_member_page_index;
mod schema;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261130_000001_create_better_auth_core::Migration),
            Box::new(m20261130_000002_create_organizations::Migration),
            Box::new(m20261130_000003_create_jwks::Migration),
            Box::new(m20261130_000004_create_two_factor::Migration),
            Box::new(m20261130_000005_create_api_keys::Migration),
            Box::new(m20261130_000006_create_sso_providers::Migration),
            Box::new(m20261203_000007_create_mail_outbox::Migration),
            Box::new(m20261204_000008_session_authentication::Migration),
            Box::new(m20261204_000009_create_passkey::Migration),
            Box::new(m20261204_000010_create_sso_policy::Migration),
            Box::new(m20261206_000011_create_webhooks::Migration),
            Box::new(m20261207_000012_create_scim::Migration),
            Box::new(m20261207_000013_member_page_index::Migration),
        ]
    }
}

/// Applies every pending migration.
///
/// # Errors
/// The first migration that fails.
pub async fn apply(db: &sea_orm_migration::sea_orm::DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Every migration's name, and whether the database has it applied.
///
/// # Errors
/// The database cannot be read.
pub async fn status(
    db: &sea_orm_migration::sea_orm::DatabaseConnection,
) -> Result<Vec<(String, bool)>, DbErr> {
    let pending: Vec<String> = Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|m| {
            let name = m.name().to_owned();
            let applied = !pending.contains(&name);
            (name, applied)
        })
        .collect())
}
