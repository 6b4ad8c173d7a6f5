//! `castellan_mail_outbox`: mail waiting to be handed to the mail server. `payload` is the
//! sealed JSON of the message (it carries sign-in links), never plain text.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "castellan_mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub payload: String,
    pub attempts: i32,
    #[sea_orm(column_name = "nextAttemptAt")]
    pub next_attempt_at: DateTimeUtc,
    /// Set while one sender holds the row, so replicas do not send it twice.
    #[sea_orm(column_name = "lockedUntil")]
    pub locked_until: Option<DateTimeUtc>,
    /// The last delivery failure, without the message's contents.
    #[sea_orm(column_name = "lastError")]
    pub last_error: Option<String>,
    /// When delivery was given up.
    #[sea_orm(column_name = "deadAt")]
    pub dead_at: Option<DateTimeUtc>,
    #[sea_orm(column_name = "createdAt")]
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
