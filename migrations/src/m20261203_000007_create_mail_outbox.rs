//! Castellan's mail outbox: a mail is queued here before anything sends it, and leaves only when
//! the mail server took it, so neither an SMTP outage nor a restart loses it.

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000007_create_mail_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let b = |t: FieldType| t.sql(backend);
        let (text, number, date) = (b(FieldType::String), b(FieldType::Number), b(FieldType::Date));
        run_all(
            manager,
            &[
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "castellan_mail_outbox" ("id" {text} not null primary key, "payload" {text} not null, "attempts" {number} not null, "nextAttemptAt" {date} not null, "lockedUntil" {date}, "lastError" {text}, "deadAt" {date}, "createdAt" {date} not null)"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "castellan_mail_outbox_nextAttemptAt_idx" on "castellan_mail_outbox" ("nextAttemptAt")"#
                    .to_owned(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(
            manager,
            &[r#"DROP TABLE IF EXISTS "castellan_mail_outbox""#.to_owned()],
        )
        .await
    }
}
