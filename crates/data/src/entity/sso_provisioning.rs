//! `castellan_sso_provisioning`: Castellan's per-connection provisioning settings (default role,
//! IdP-group → organization-role mapping, IdP-initiated login), keyed by `providerId`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_sso_provisioning")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_name = "providerId")]
    pub provider_id: String,
    #[sea_orm(column_name = "defaultRole")]
    pub default_role: String,
    /// The OIDC claim or SAML attribute holding the user's groups.
    #[sea_orm(column_name = "groupsClaim")]
    pub groups_claim: Option<String>,
    /// JSON object: IdP group → organization role.
    #[sea_orm(column_name = "roleMapping")]
    pub role_mapping: String,
    #[sea_orm(column_name = "allowIdpInitiated")]
    pub allow_idp_initiated: bool,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
