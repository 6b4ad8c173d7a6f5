//! SCIM 2.0 provisioning: connections (one bearer token each, stored as its SHA-256), the users
//! and groups each connection provisioned, with the SCIM document the directory last sent, and
//! the groups' members.

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000012_create_scim"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let b = |t: FieldType| t.sql(backend);
        let (text, boolean, number, date) = (
            b(FieldType::String),
            b(FieldType::Boolean),
            b(FieldType::Number),
            b(FieldType::Date),
        );
        run_all(
            manager,
            &[
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "castellan_scim_connection" ("id" {text} not null primary key, "providerId" {text} not null unique, "organizationId" {text} not null references "organization" ("id") on delete cascade, "tokenHash" {text} not null, "createdBy" {text}, "createdAt" {date} not null, "updatedAt" {date} not null)"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "castellan_scim_connection_organizationId_idx" on "castellan_scim_connection" ("organizationId")"#.to_owned(),
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "castellan_scim_user" ("connectionId" {text} not null references "castellan_scim_connection" ("id") on delete cascade, "userId" {text} not null references "user" ("id") on delete cascade, "userNameKey" {text} not null, "externalId" {text}, "active" {boolean} not null, "resource" {text} not null, "version" {number} not null, "createdAt" {date} not null, "updatedAt" {date} not null, primary key ("connectionId", "userId"))"#
                ),
                r#"CREATE UNIQUE INDEX IF NOT EXISTS "castellan_scim_user_userName_idx" on "castellan_scim_user" ("connectionId", "userNameKey")"#.to_owned(),
                r#"CREATE INDEX IF NOT EXISTS "castellan_scim_user_userId_idx" on "castellan_scim_user" ("userId")"#.to_owned(),
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "castellan_scim_group" ("id" {text} not null primary key, "connectionId" {text} not null references "castellan_scim_connection" ("id") on delete cascade, "displayNameKey" {text} not null, "externalId" {text}, "resource" {text} not null, "version" {number} not null, "createdAt" {date} not null, "updatedAt" {date} not null)"#
                ),
                r#"CREATE UNIQUE INDEX IF NOT EXISTS "castellan_scim_group_displayName_idx" on "castellan_scim_group" ("connectionId", "displayNameKey")"#.to_owned(),
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "castellan_scim_group_member" ("groupId" {text} not null references "castellan_scim_group" ("id") on delete cascade, "userId" {text} not null references "user" ("id") on delete cascade, primary key ("groupId", "userId"))"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "castellan_scim_group_member_userId_idx" on "castellan_scim_group_member" ("userId")"#.to_owned(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(
            manager,
            &[
                r#"DROP TABLE IF EXISTS "castellan_scim_group_member""#.to_owned(),
                r#"DROP TABLE IF EXISTS "castellan_scim_group""#.to_owned(),
                r#"DROP TABLE IF EXISTS "castellan_scim_user""#.to_owned(),
                r#"DROP TABLE IF EXISTS "castellan_scim_connection""#.to_owned(),
            ],
        )
        .await
    }
}
