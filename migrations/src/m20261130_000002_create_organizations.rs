//! Better Auth's organization plugin tables (with teams and dynamic access control), plus
//! Castellan's own: the casbin policy table and the hash-chained audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::schema::{FieldType, run_all};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000002_create_organizations"
    }
}

fn statements(backend: DatabaseBackend) -> Vec<String> {
    let b = |t: FieldType| t.sql(backend);
    let (text, int, date) = (b(FieldType::String), b(FieldType::Number), b(FieldType::Date));
    let now = if backend == DatabaseBackend::Postgres {
        " default CURRENT_TIMESTAMP"
    } else {
        ""
    };
    let big = if backend == DatabaseBackend::Postgres {
        "bigint"
    } else {
        "integer"
    };
    let serial = if backend == DatabaseBackend::Postgres {
        "bigserial primary key"
    } else {
        "integer primary key autoincrement"
    };
    vec![
        format!(
            r#"CREATE TABLE IF NOT EXISTS "organization" ("id" {text} not null primary key, "name" {text} not null, "slug" {text} not null unique, "logo" {text}, "createdAt" {date} not null, "metadata" {text})"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "team" ("id" {text} not null primary key, "name" {text} not null, "memberCount" {int} not null, "organizationId" {text} not null references "organization" ("id") on delete cascade, "createdAt" {date} not null, "updatedAt" {date})"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "teamMember" ("id" {text} not null primary key, "teamId" {text} not null references "team" ("id") on delete cascade, "userId" {text} not null references "user" ("id") on delete cascade, "membershipKey" {text} unique, "createdAt" {date})"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "member" ("id" {text} not null primary key, "organizationId" {text} not null references "organization" ("id") on delete cascade, "userId" {text} not null references "user" ("id") on delete cascade, "role" {text} not null, "createdAt" {date} not null)"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "invitation" ("id" {text} not null primary key, "organizationId" {text} not null references "organization" ("id") on delete cascade, "email" {text} not null, "role" {text}, "teamId" {text}, "status" {text} not null, "expiresAt" {date} not null, "createdAt" {date}{now} not null, "inviterId" {text} not null references "user" ("id") on delete cascade)"#
        ),
        format!(
            r#"CREATE TABLE IF NOT EXISTS "organizationRole" ("id" {text} not null primary key, "organizationId" {text} not null references "organization" ("id") on delete cascade, "role" {text} not null, "permission" {text} not null, "createdAt" {date}{now} not null, "updatedAt" {date})"#
        ),
        r#"CREATE INDEX IF NOT EXISTS "team_organizationId_idx" on "team" ("organizationId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "teamMember_teamId_idx" on "teamMember" ("teamId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "teamMember_userId_idx" on "teamMember" ("userId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "member_organizationId_idx" on "member" ("organizationId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "member_userId_idx" on "member" ("userId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "invitation_organizationId_idx" on "invitation" ("organizationId")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "invitation_email_idx" on "invitation" ("email")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "organizationRole_organizationId_idx" on "organizationRole" ("organizationId")"#
            .to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "organizationRole_role_idx" on "organizationRole" ("role")"#.to_owned(),
        // casbin policies of custom roles. Empty strings, not NULLs, so the unique index holds:
        // casbin hands the adapter a rule before checking its own model, so re-adds must be no-ops.
        format!(
            r#"CREATE TABLE IF NOT EXISTS "castellan_casbin_rule" ("id" {serial}, "ptype" {text} not null, "v0" {text} not null default '', "v1" {text} not null default '', "v2" {text} not null default '', "v3" {text} not null default '', "v4" {text} not null default '', "v5" {text} not null default '')"#
        ),
        r#"CREATE UNIQUE INDEX IF NOT EXISTS "castellan_casbin_rule_uidx" on "castellan_casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5")"#.to_owned(),
        r#"CREATE INDEX IF NOT EXISTS "castellan_casbin_rule_domain_idx" on "castellan_casbin_rule" ("v1")"#.to_owned(),
        // Append-only, hash-chained per organization: `seq` numbers an organization's entries and
        // `hash` covers the entry and the previous entry's hash.
        format!(
            r#"CREATE TABLE IF NOT EXISTS "castellan_audit_log" ("id" {text} not null primary key, "organizationId" {text} not null, "seq" {big} not null, "action" {text} not null, "actorId" {text}, "targetType" {text}, "targetId" {text}, "details" {text}, "ipAddress" {text}, "userAgent" {text}, "createdAt" {date} not null, "prevHash" {text} not null, "hash" {text} not null)"#
        ),
        r#"CREATE UNIQUE INDEX IF NOT EXISTS "castellan_audit_log_org_seq_uidx" on "castellan_audit_log" ("organizationId", "seq")"#.to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_all(manager, &statements(manager.get_database_backend())).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            "castellan_audit_log",
            "castellan_casbin_rule",
            "organizationRole",
            "invitation",
            "member",
            "teamMember",
            "team",
            "organization",
        ];
        run_all(manager, &tables.map(|t| format!(r#"DROP TABLE IF EXISTS "{t}""#))).await
    }
}
