//! `@better-auth/api-key`'s table.

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000005_create_api_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let b = |t: FieldType| t.sql(backend);
        let (text, boolean, int, date) = (
            b(FieldType::String),
            b(FieldType::Boolean),
            b(FieldType::Number),
            b(FieldType::Date),
        );
        run_all(
            manager,
            &[
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "apikey" ("id" {text} not null primary key, "configId" {text} not null, "name" {text}, "start" {text}, "referenceId" {text} not null, "prefix" {text}, "key" {text} not null, "refillInterval" {int}, "refillAmount" {int}, "lastRefillAt" {date}, "enabled" {boolean}, "rateLimitEnabled" {boolean}, "rateLimitTimeWindow" {int}, "rateLimitMax" {int}, "requestCount" {int}, "remaining" {int}, "lastRequest" {date}, "expiresAt" {date}, "createdAt" {date} not null, "updatedAt" {date} not null, "permissions" {text}, "metadata" {text})"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "apikey_configId_idx" on "apikey" ("configId")"#.to_owned(),
                r#"CREATE INDEX IF NOT EXISTS "apikey_referenceId_idx" on "apikey" ("referenceId")"#.to_owned(),
                r#"CREATE INDEX IF NOT EXISTS "apikey_key_idx" on "apikey" ("key")"#.to_owned(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(manager, &[r#"DROP TABLE IF EXISTS "apikey""#.to_owned()]).await
    }
}
