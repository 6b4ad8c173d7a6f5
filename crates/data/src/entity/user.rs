//! `user`: Better Auth core plus the admin and two-factor plugins' columns.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "user")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// Always stored lower-case.
    #[sea_orm(unique)]
    pub email: String,
    #[sea_orm(column_name = "emailVerified")]
    pub email_verified: bool,
    pub image: Option<String>,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
    pub role: Option<String>,
    pub banned: Option<bool>,
    #[sea_orm(column_name = "banReason")]
    pub ban_reason: Option<String>,
    #[sea_orm(column_name = "banExpires")]
    pub ban_expires: Option<DateTimeUtc>,
    #[sea_orm(column_name = "twoFactorEnabled")]
    pub two_factor_enabled: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
