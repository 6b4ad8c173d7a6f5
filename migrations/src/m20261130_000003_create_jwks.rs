//! Better Auth's jwt plugin table: signing keys, private halves encrypted at rest.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::schema::{FieldType, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000003_create_jwks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let (text, date) = (FieldType::String.sql(backend), FieldType::Date.sql(backend));
        let now = if backend == DatabaseBackend::Postgres {
            " default CURRENT_TIMESTAMP"
        } else {
            ""
        };
        run_all(
            manager,
            &[format!(
                r#"CREATE TABLE IF NOT EXISTS "jwks" ("id" {text} not null primary key, "publicKey" {text} not null, "privateKey" {text} not null, "createdAt" {date}{now} not null, "expiresAt" {date}, "alg" {text}, "crv" {text})"#
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(manager, &[r#"DROP TABLE IF EXISTS "jwks""#.to_owned()]).await
    }
}
