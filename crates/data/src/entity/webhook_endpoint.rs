//! `castellan_webhook_endpoint`: where an organization (or, with no organization, the platform)
//! wants its events sent. `secret` and `previousSecret` are sealed under the deployment's keys.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_webhook_endpoint")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `None`: a platform endpoint, managed by platform admins, receiving every event.
    #[sea_orm(column_name = "organizationId")]
    pub organization_id: Option<String>,
    pub url: String,
    pub description: Option<String>,
    /// A JSON array of event types (`member.*` matches a family); empty means every event.
    #[sea_orm(column_name = "eventTypes")]
    pub event_types: String,
    pub secret: String,
    /// The secret before the last rotation, still signed with until `previousSecretExpiresAt`.
    #[sea_orm(column_name = "previousSecret")]
    pub previous_secret: Option<String>,
    #[sea_orm(column_name = "previousSecretExpiresAt")]
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub enabled: bool,
    #[sea_orm(column_name = "disabledReason")]
    pub disabled_reason: Option<String>,
    #[sea_orm(column_name = "createdBy")]
    pub created_by: Option<String>,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
