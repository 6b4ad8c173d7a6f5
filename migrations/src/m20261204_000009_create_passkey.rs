//! `@better-auth/passkey`'s table, as its migrator creates it.

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, ensure_column, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000009_create_passkey"
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
                    r#"CREATE TABLE IF NOT EXISTS "passkey" ("id" {text} not null primary key, "name" {text}, "publicKey" {text} not null, "userId" {text} not null references "user" ("id") on delete cascade, "credentialID" {text} not null, "counter" {int} not null, "deviceType" {text} not null, "backedUp" {boolean} not null, "transports" {text}, "createdAt" {date}, "aaguid" {text})"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "passkey_userId_idx" on "passkey" ("userId")"#.to_owned(),
                r#"CREATE INDEX IF NOT EXISTS "passkey_credentialID_idx" on "passkey" ("credentialID")"#.to_owned(),
            ],
        )
        .await?;
        // Passkey tables made before the plugin recorded the authenticator model.
        ensure_column(manager, "passkey", "aaguid", FieldType::String).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(manager, &[r#"DROP TABLE IF EXISTS "passkey""#.to_owned()]).await
    }
}
