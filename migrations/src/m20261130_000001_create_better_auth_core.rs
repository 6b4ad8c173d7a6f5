//! Better Auth's core tables (`user`, `session`, `account`, `verification`) with the columns the
//! admin, two-factor and organization plugins add to them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::schema::{FieldType, ensure_column, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000001_create_better_auth_core"
    }
}

fn statements(backend: DatabaseBackend) -> Vec<String> {
    let b = |t: FieldType| t.sql(backend);
    let (text, boolean, date) = (b(FieldType::String), b(FieldType::Boolean), b(FieldType::Date));
    // Better Auth gives date columns with a JS default a SQL default on Postgres only.
    let now = if backend == DatabaseBackend::Postgres {
        " default CURRENT_TIMESTAMP"
    } else {
        ""
    };
    vec![
        format!(
            r#"CREATE TABLE IF NOT EXISTS "user" ("id" {text} not null primary key, "name" {text} not null, "email" {text} not null unique, "emailVerified" {boolean} not null, "image" {text}, "createdAt" {date}{now} not null, "updatedAt" {date}{now} not null, "role" {text}, "banned" {boolean}, "banReason" {text}, "banExpires" {date}, "twoFactorEnabled" {boolean})"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "session" ("id" {text} not null primary key, "expiresAt" {date} not null, "token" {text} not null unique, "createdAt" {date}{now} not null, "updatedAt" {date} not null, "ipAddress" {text}, "userAgent" {text}, "userId" {text} not null references "user" ("id") on delete cascade, "activeOrganizationId" {text}, "activeTeamId" {text}, "impersonatedBy" {text})"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "account" ("id" {text} not null primary key, "accountId" {text} not null, "providerId" {text} not null, "userId" {text} not null references "user" ("id") on delete cascade, "accessToken" {text}, "refreshToken" {text}, "idToken" {text}, "accessTokenExpiresAt" {date}, "refreshTokenExpiresAt" {date}, "scope" {text}, "password" {text}, "createdAt" {date}{now} not null, "updatedAt" {date} not null)"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "verification" ("id" {text} not null primary key, "identifier" {text} not null, "value" {text} not null, "expiresAt" {date} not null, "createdAt" {date}{now} not null, "updatedAt" {date}{now} not null)"#
        ),
        r#"CREATE INDEX IF NOT EXISTS "session_userId_idx" on "session" ("userId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "account_userId_idx" on "account" ("userId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "verification_identifier_idx" on "verification" ("identifier")"#
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(manager, &statements(manager.get_database_backend())).await?;
        // A Better Auth database created without the admin, two-factor or organization plugins
        // lacks these columns; Castellan's services read them.
        for (table, column, ty) in [
            ("user", "role", FieldType::String),
            ("user", "banned", FieldType::Boolean),
            ("user", "banReason", FieldType::String),
            ("user", "banExpires", FieldType::Date),
            ("user", "twoFactorEnabled", FieldType::Boolean),
            ("session", "activeOrganizationId", FieldType::String),
            ("session", "activeTeamId", FieldType::String),
            ("session", "impersonatedBy", FieldType::String),
        ] {
            ensure_column(manager, table, column, ty).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(
            manager,
            &["verification", "account", "session", "user"].map(|t| format!(r#"DROP TABLE IF EXISTS "{t}""#)),
        )
        .await
    }
}
