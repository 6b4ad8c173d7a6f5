//! `castellan_webhook_delivery`: one event for one endpoint. `id` is the Standard Webhooks
//! `webhook-id`, the same on every attempt, so receivers can deduplicate; `seq` orders an
//! endpoint's deliveries.

use sea_orm::entity::prelude::*;

/// Waiting for its first or next attempt.
pub const PENDING: &str = "pending";
/// The endpoint answered 2xx.
pub const DELIVERED: &str = "delivered";
/// Every attempt of the retry schedule failed.
pub const FAILED: &str = "failed";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_webhook_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: String,
    #[sea_orm(column_name = "endpointId")]
    pub endpoint_id: String,
    #[sea_orm(column_name = "eventId")]
    pub event_id: String,
    pub status: String,
    pub attempts: i32,
    #[sea_orm(column_name = "nextAttemptAt")]
    pub next_attempt_at: DateTimeUtc,
    /// Set while one worker holds the delivery, so replicas never send one attempt twice.
    #[sea_orm(column_name = "lockedUntil")]
    pub locked_until: Option<DateTimeUtc>,
    #[sea_orm(column_name = "lastAttemptAt")]
    pub last_attempt_at: Option<DateTimeUtc>,
    /// The HTTP status of the last attempt (none when it did not get an answer).
    #[sea_orm(column_name = "lastStatus")]
    pub last_status: Option<i32>,
    #[sea_orm(column_name = "lastError")]
    pub last_error: Option<String>,
    #[sea_orm(column_name = "deliveredAt")]
    pub delivered_at: Option<DateTimeUtc>,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
