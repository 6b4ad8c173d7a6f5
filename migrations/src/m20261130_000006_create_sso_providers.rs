//! Better Auth's SSO plugin table (`ssoProvider`, with the domain-verification column), plus
//! Castellan's own per-connection provisioning settings and the SAML assertion ids already used.

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, ensure_column, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000006_create_sso_providers"
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
            &[
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "ssoProvider" ("id" {text} not null primary key, "issuer" {text} not null, "oidcConfig" {text}, "samlConfig" {text}, "userId" {text} not null references "user" ("id") on delete cascade, "providerId" {text} not null unique, "organizationId" {text}, "domain" {text} not null)"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "ssoProvider_organizationId_idx" on "ssoProvider" ("organizationId")"#
                    .to_owned(),
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "castellan_saml_assertion" ("id" {text} not null primary key, "providerId" {text} not null, "expiresAt" {date} not null)"#
                ),
                r#"CREATE INDEX IF NOT EXISTS "castellan_saml_assertion_expiresAt_idx" on "castellan_saml_assertion" ("expiresAt")"#
                    .to_owned(),
                format!(
                    r#"CREATE TABLE IF NOT EXISTS "castellan_sso_provisioning" ("providerId" {text} not null primary key, "defaultRole" {text} not null, "groupsClaim" {text}, "roleMapping" {text} not null, "allowIdpInitiated" {boolean} not null, "updatedAt" {date} not null)"#
                ),
            ],
        )
        .await?;
        // A Better Auth database created without domain verification lacks the column.
        ensure_column(manager, "ssoProvider", "domainVerified", FieldType::Boolean).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(
            manager,
            &[
                r#"DROP TABLE IF EXISTS "castellan_sso_provisioning""#.to_owned(),
                r#"DROP TABLE IF EXISTS "castellan_saml_assertion""#.to_owned(),
                r#"DROP TABLE IF EXISTS "ssoProvider""#.to_owned(),
            ],
        )
        .await
    }
}
