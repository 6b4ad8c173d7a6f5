//! `session`: one row per signed-in device. `token` is the raw (unsigned) 32-character token.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_name = "expiresAt")]
    pub expires_at: DateTimeUtc,
    #[sea_orm(unique)]
    pub token: String,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
    #[sea_orm(column_name = "ipAddress")]
    pub ip_address: Option<String>,
    #[sea_orm(column_name = "userAgent")]
    pub user_agent: Option<String>,
    #[sea_orm(column_name = "userId")]
    pub user_id: String,
    #[sea_orm(column_name = "activeOrganizationId")]
    pub active_organization_id: Option<String>,
    #[sea_orm(column_name = "activeTeamId")]
    pub active_team_id: Option<String>,
    #[sea_orm(column_name = "impersonatedBy")]
    pub impersonated_by: Option<String>,
    /// How the session was authenticated (Castellan's addition): `password`, `password+totp`,
    /// `social`, `sso`, `magic-link`, `email-otp`, ...
    #[sea_orm(column_name = "authMethod")]
    #[serde(default)]
    pub auth_method: Option<String>,
    /// The SSO connection (`ssoProvider.providerId`) or social provider it came through.
    #[sea_orm(column_name = "authConnectionId")]
    #[serde(default)]
    pub auth_connection_id: Option<String>,
    /// When the user last proved who they are for this session.
    #[sea_orm(column_name = "authenticatedAt")]
    #[serde(default)]
    pub authenticated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
