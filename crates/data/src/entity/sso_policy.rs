//! `castellan_sso_policy`: an organization's SSO policy. With `requireSso`, its members act in
//! it only through one of its connections (owners keep an audited break-glass sign-in).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_sso_policy")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_name = "organizationId")]
    pub organization_id: String,
    #[sea_orm(column_name = "requireSso")]
    pub require_sso: bool,
    #[sea_orm(column_name = "updatedBy")]
    pub updated_by: Option<String>,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
