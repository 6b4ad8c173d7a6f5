//! Castellan's per-organization SSO policy (`requireSso`).

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000010_create_sso_policy"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let b = |t: FieldType| t.sql(backend);
        let (text, boolean, date) = (b(FieldType::String), b(FieldType::Boolean), b(FieldType::Date));
        run_all(
            manager,
            &[format!(
                r#"CREATE TABLE IF NOT EXISTS "castellan_sso_policy" ("organizationId" {text} not null primary key references "organization" ("id") on delete cascade, "requireSso" {boolean} not null, "updatedBy" {text}, "updatedAt" {date} not null)"#
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(
            manager,
            &[r#"DROP TABLE IF EXISTS "castellan_sso_policy""#.to_owned()],
        )
        .await
    }
}
