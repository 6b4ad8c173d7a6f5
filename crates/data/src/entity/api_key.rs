//! `apikey` (`@better-auth/api-key`): `key` holds the SHA-256 of the key, never the key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "apikey")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_name = "configId")]
    pub config_id: String,
    pub name: Option<String>,
    pub start: Option<String>,
    /// The owner: a user id, or an organization id.
    #[sea_orm(column_name = "referenceId")]
    pub reference_id: String,
    pub prefix: Option<String>,
    pub key: String,
    #[sea_orm(column_name = "refillInterval")]
    pub refill_interval: Option<i32>,
    #[sea_orm(column_name = "refillAmount")]
    pub refill_amount: Option<i32>,
    #[sea_orm(column_name = "lastRefillAt")]
    pub last_refill_at: Option<DateTimeUtc>,
    pub enabled: Option<bool>,
    #[sea_orm(column_name = "rateLimitEnabled")]
    pub rate_limit_enabled: Option<bool>,
    #[sea_orm(column_name = "rateLimitTimeWindow")]
    pub rate_limit_time_window: Option<i32>,
    #[sea_orm(column_name = "rateLimitMax")]
    pub rate_limit_max: Option<i32>,
    #[sea_orm(column_name = "requestCount")]
    pub request_count: Option<i32>,
    pub remaining: Option<i32>,
    #[sea_orm(column_name = "lastRequest")]
    pub last_request: Option<DateTimeUtc>,
    #[sea_orm(column_name = "expiresAt")]
    pub expires_at: Option<DateTimeUtc>,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
    #[sea_orm(column_name = "updatedAt")]
    pub updated_at: DateTimeUtc,
    pub permissions: Option<String>,
    pub metadata: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
