//! `castellan_scim_group`: a group a SCIM connection provisioned. `resource` is the SCIM
//! document the directory last sent (without `id` and `meta`); who belongs to it is kept in
//! `castellan_scim_group_member` too, for the role mapping.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_scim_group")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_name = "connectionId")]
    pub connection_id: String,
    /// `displayName`, lower-case: unique within the connection.
    #[sea_orm(column_name = "displayNameKey")]
    pub display_name_key: String,
    #[sea_orm(column_name = "externalId")]
    pub external_id: Option<String>,
    pub resource: String,
    pub version: i32,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
