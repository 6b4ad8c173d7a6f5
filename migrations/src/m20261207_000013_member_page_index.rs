//! `list-members` pages an organization's members in join order (`createdAt`). With only the
//! `organizationId` index, Postgres reads and sorts every member of the organization for each
//! page: 3 ms for a 20k-member organization at 1M users (`bench/scale.sh`, auto_explain). With
//! (`organizationId`, `createdAt`, `id`) the page is read in order from the index (`id` breaks
//! ties, so pages are stable), and the member count is an index-only scan.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000013_member_page_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"CREATE INDEX IF NOT EXISTS "member_organizationId_createdAt_idx" ON "member" ("organizationId", "createdAt", "id")"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(r#"DROP INDEX IF EXISTS "member_organizationId_createdAt_idx""#)
            .await?;
        Ok(())
    }
}
