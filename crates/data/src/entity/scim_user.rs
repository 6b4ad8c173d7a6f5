//! `castellan_scim_user`: a user a SCIM connection provisioned. `resource` is the SCIM
//! document the directory last sent (without `id` and `meta`), so every attribute the User
//! schema publishes round-trips; `active` false means deprovisioned (no membership).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_scim_user")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_name = "connectionId")]
    pub connection_id: String,
    #[sea_orm(primary_key, auto_increment = false, column_name = "userId")]
    pub user_id: String,
    /// `userName`, lower-case: unique within the connection.
    #[sea_orm(column_name = "userNameKey")]
    pub user_name_key: String,
    #[sea_orm(column_name = "externalId")]
    pub external_id: Option<String>,
    pub active: bool,
    pub resource: String,
    /// Counts changes; the resource's `meta.version`.
    pub version: i32,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
