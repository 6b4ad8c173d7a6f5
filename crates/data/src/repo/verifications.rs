//! One-time values in the `verification` table.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::DataResult;
use crate::entity::verification::{self, ActiveModel, Entity as Verification, Model};

/// # Errors
/// Database failures.
pub async fn insert(
    db: &impl ConnectionTrait,
    identifier: String,
    value: String,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let row = ActiveModel {
        id: Set(castellan_crypto::random::generate_id()),
        identifier: Set(identifier),
        value: Set(value),
        expires_at: Set(expires_at),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

/// Takes the value stored under `identifier`, exactly once: of two concurrent callers only one
/// gets it. Expired rows are removed and reported as absent.
///
/// # Errors
/// Database failures.
pub async fn consume(
    db: &impl ConnectionTrait,
    identifier: &str,
    now: DateTime<Utc>,
) -> DataResult<Option<Model>> {
    Ok(take(db, identifier).await?.filter(|row| row.expires_at > now))
}

/// Takes the value stored under `identifier` exactly once, expired or not, so the caller can
/// tell an expired value from a missing one.
///
/// # Errors
/// Database failures.
pub async fn take(db: &impl ConnectionTrait, identifier: &str) -> DataResult<Option<Model>> {
    let Some(row) = Verification::find()
        .filter(verification::Column::Identifier.eq(identifier))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let deleted = Verification::delete_by_id(row.id.clone()).exec(db).await?;
    Ok((deleted.rows_affected == 1).then_some(row))
}

/// Removes every value stored under `identifier`.
///
/// # Errors
/// Database failures.
pub async fn delete(db: &impl ConnectionTrait, identifier: &str) -> DataResult<()> {
    Verification::delete_many()
        .filter(verification::Column::Identifier.eq(identifier))
        .exec(db)
        .await?;
    Ok(())
}

/// Reads without consuming; expired rows count as absent.
///
/// # Errors
/// Database failures.
pub async fn peek(
    db: &impl ConnectionTrait,
    identifier: &str,
    now: DateTime<Utc>,
) -> DataResult<Option<Model>> {
    let row = Verification::find()
        .filter(verification::Column::Identifier.eq(identifier))
        .one(db)
        .await?;
    Ok(row.filter(|r| r.expires_at > now))
}

/// Replaces the value stored under `identifier` (its expiry stays), for a value that evolves
/// over several requests.
///
/// # Errors
/// Database failures.
pub async fn replace_value(db: &impl ConnectionTrait, identifier: &str, value: String) -> DataResult<()> {
    Verification::update_many()
        .col_expr(
            verification::Column::Value,
            sea_orm::sea_query::Expr::value(value),
        )
        .filter(verification::Column::Identifier.eq(identifier))
        .exec(db)
        .await?;
    Ok(())
}
