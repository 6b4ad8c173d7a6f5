//! Helpers that write DDL the way Better Auth's Kysely migrator does on each backend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

/// Column types named by Better Auth's field types (`get-migration.ts`).
#[derive(Clone, Copy)]
#[allow(
    dead_code,
    reason = "Number is used by the organization tables (team.memberCount)"
)]
pub enum FieldType {
    String,
    Boolean,
    Number,
    Date,
}

impl FieldType {
    pub fn sql(self, backend: DatabaseBackend) -> &'static str {
        match (self, backend) {
            (Self::String, _) => "text",
            (Self::Boolean, DatabaseBackend::Postgres) => "boolean",
            (Self::Number | Self::Boolean, _) => "integer",
            (Self::Date, DatabaseBackend::Postgres) => "timestamptz",
            (Self::Date, _) => "date",
        }
    }
}

/// Runs each statement in order.
pub async fn run_all(manager: &SchemaManager<'_>, statements: &[String]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Adds `column` to `table` when an existing (older or plugin-less) Better Auth database lacks it.
pub async fn ensure_column(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &str,
    ty: FieldType,
) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let probe = match backend {
        DatabaseBackend::Postgres => Statement::from_sql_and_values(
            backend,
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = $1 AND column_name = $2",
            [table.into(), column.into()],
        ),
        _ => Statement::from_sql_and_values(
            backend,
            "SELECT 1 FROM pragma_table_info(?) WHERE name = ?",
            [table.into(), column.into()],
        ),
    };
    if db.query_one_raw(probe).await?.is_none() {
        db.execute_unprepared(&format!(
            r#"ALTER TABLE "{table}" ADD COLUMN "{column}" {}"#,
            ty.sql(backend)
        ))
        .await?;
    }
    Ok(())
}
