//! Better Auth's two-factor plugin table.

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000004_create_two_factor"
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
                    r#"CREATE TABLE IF NOT EXISTS "twoFactor" ("id" {text} not null primary key, "secret" {text} not null, "backupCodes" {text} not null, "userId" {text} not null references "user" ("id") on delete cascade, "verified" {boolean}, "failedVerificationCount" {int}, "lockedUntil" {date})"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "twoFactor_secret_idx" on "twoFactor" ("secret")"#.to_owned(),
                r#"CREATE INDEX IF NOT EXISTS "twoFactor_userId_idx" on "twoFactor" ("userId")"#.to_owned(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(manager, &[r#"DROP TABLE IF EXISTS "twoFactor""#.to_owned()]).await
    }
}
