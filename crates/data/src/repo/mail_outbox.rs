//! The mail outbox: queue, claim, deliver or reschedule. Claims are guarded updates, so two
//! replicas never send one mail at once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::DataError;
use crate::entity::mail_outbox;

/// # Errors
/// Database failures.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    id: String,
    payload: String,
    now: DateTime<Utc>,
) -> Result<(), DataError> {
    mail_outbox::ActiveModel {
        id: Set(id),
        payload: Set(payload),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        dead_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Up to `limit` mails due now and held by no sender, oldest first.
///
/// # Errors
/// Database failures.
pub async fn due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<mail_outbox::Model>, DataError> {
    Ok(mail_outbox::Entity::find()
        .filter(mail_outbox::Column::DeadAt.is_null())
        .filter(mail_outbox::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(mail_outbox::Column::LockedUntil.is_null())
                .add(mail_outbox::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(mail_outbox::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Takes `row` for one delivery attempt until `until`; `false` when another sender has it.
///
/// # Errors
/// Database failures.
pub async fn claim(
    db: &impl ConnectionTrait,
    row: &mail_outbox::Model,
    until: DateTime<Utc>,
) -> Result<bool, DataError> {
    let mut update = mail_outbox::Entity::update_many()
        .col_expr(mail_outbox::Column::LockedUntil, Expr::value(until))
        .col_expr(mail_outbox::Column::Attempts, Expr::value(row.attempts + 1))
        .filter(mail_outbox::Column::Id.eq(&row.id))
        .filter(mail_outbox::Column::Attempts.eq(row.attempts));
    update = match row.locked_until {
        Some(held) => update.filter(mail_outbox::Column::LockedUntil.eq(held)),
        None => update.filter(mail_outbox::Column::LockedUntil.is_null()),
    };
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// The mail server took it.
///
/// # Errors
/// Database failures.
pub async fn delivered(db: &impl ConnectionTrait, id: &str) -> Result<(), DataError> {
    mail_outbox::Entity::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(())
}

/// Releases the row for another attempt at `next`, or gives it up when `next` is `None`.
///
/// # Errors
/// Database failures.
pub async fn failed(
    db: &impl ConnectionTrait,
    id: &str,
    error: String,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DataError> {
    let mut row = mail_outbox::ActiveModel {
        id: Set(id.to_owned()),
        locked_until: Set(None),
        last_error: Set(Some(error)),
        ..Default::default()
    };
    match next {
        Some(at) => row.next_attempt_at = Set(at),
        None => row.dead_at = Set(Some(now)),
    }
    row.update(db).await?;
    Ok(())
}

/// How many mails still wait (not given up).
///
/// # Errors
/// Database failures.
pub async fn waiting(db: &impl ConnectionTrait) -> Result<u64, DataError> {
    use sea_orm::PaginatorTrait as _;
    Ok(mail_outbox::Entity::find()
        .filter(mail_outbox::Column::DeadAt.is_null())
        .count(db)
        .await?)
}
