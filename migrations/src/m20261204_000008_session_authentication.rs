//! How each session was authenticated (beyond Better Auth): the method, the connection (SSO
//! connection or social provider) and when, so a policy such as "members of this organization
//! sign in through its IdP" can be decided from the session alone. Nullable: rows written by
//! Better Auth, or before this migration, have none.

use sea_orm_migration::prelude::*;

use crate::schema::{FieldType, ensure_column};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000008_session_authentication"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ensure_column(manager, "session", "authMethod", FieldType::String).await?;
        ensure_column(manager, "session", "authConnectionId", FieldType::String).await?;
        ensure_column(manager, "session", "authenticatedAt", FieldType::Date).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for column in ["authMethod", "authConnectionId", "authenticatedAt"] {
            db.execute_unprepared(&format!(r#"ALTER TABLE "session" DROP COLUMN "{column}""#))
                .await?;
        }
        Ok(())
    }
}
