//! `castellan_scim_group_member`: a user in a SCIM group.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_scim_group_member")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_name = "groupId")]
    pub group_id: String,
    #[sea_orm(primary_key, auto_increment = false, column_name = "userId")]
    pub user_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
