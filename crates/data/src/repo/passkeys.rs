//! Passkeys. Every read and write but the sign-in lookup is scoped to the owning user.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use crate::DataResult;
use crate::entity::passkey::{self, ActiveModel, Entity as Passkey, Model};

/// # Errors
/// Database failures.
pub async fn list_for_user(db: &impl ConnectionTrait, user_id: &str) -> DataResult<Vec<Model>> {
    Ok(Passkey::find()
        .filter(passkey::Column::UserId.eq(user_id))
        .order_by_asc(passkey::Column::CreatedAt)
        .order_by_asc(passkey::Column::Id)
        .all(db)
        .await?)
}

/// The passkey with this credential id (base64url), whoever owns it: the one lookup a
/// sign-in makes before anyone is known.
///
/// # Errors
/// Database failures.
pub async fn find_by_credential_id(
    db: &impl ConnectionTrait,
    credential_id: &str,
) -> DataResult<Option<Model>> {
    Ok(Passkey::find()
        .filter(passkey::Column::CredentialId.eq(credential_id))
        .one(db)
        .await?)
}

/// `user_id`'s passkey `id`; another user's reads as absent.
///
/// # Errors
/// Database failures.
pub async fn find_owned(db: &impl ConnectionTrait, user_id: &str, id: &str) -> DataResult<Option<Model>> {
    Ok(Passkey::find_by_id(id.to_owned())
        .filter(passkey::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl ConnectionTrait, row: Model) -> DataResult<Model> {
    Ok(ActiveModel::from(row).insert(db).await?)
}

/// Moves the signature counter forward, and only forward: of two sign-ins racing with the same
/// counter value, one updates the row and the other is told it did not (`false`).
///
/// # Errors
/// Database failures.
pub async fn advance_counter(
    db: &impl ConnectionTrait,
    id: &str,
    seen: i32,
    next: i32,
    backed_up: bool,
) -> DataResult<bool> {
    let updated = Passkey::update_many()
        .col_expr(passkey::Column::Counter, sea_orm::sea_query::Expr::value(next))
        .col_expr(
            passkey::Column::BackedUp,
            sea_orm::sea_query::Expr::value(backed_up),
        )
        .filter(passkey::Column::Id.eq(id))
        .filter(passkey::Column::Counter.eq(seen))
        .exec(db)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Renames `user_id`'s passkey `id`; `None` when the user has no such passkey.
///
/// # Errors
/// Database failures.
pub async fn rename(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
    name: &str,
) -> DataResult<Option<Model>> {
    let Some(row) = find_owned(db, user_id, id).await? else {
        return Ok(None);
    };
    let mut row: ActiveModel = row.into();
    row.name = Set(Some(name.to_owned()));
    Ok(Some(row.update(db).await?))
}

/// Deletes `user_id`'s passkey `id`; `false` when the user has no such passkey.
///
/// # Errors
/// Database failures.
pub async fn delete_owned(db: &impl ConnectionTrait, user_id: &str, id: &str) -> DataResult<bool> {
    let deleted = Passkey::delete_many()
        .filter(passkey::Column::Id.eq(id))
        .filter(passkey::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// # Errors
/// Database failures.
pub async fn delete_for_user(db: &impl ConnectionTrait, user_id: &str) -> DataResult<()> {
    Passkey::delete_many()
        .filter(passkey::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
