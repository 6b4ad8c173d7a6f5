//! Invitations seen from the recipient's side (by id or by email), before any membership
//! exists. Organization-side reads and writes go through `castellan_authz::repo`.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::DataResult;
use crate::entity::invitation::{self, Entity as Invitation, Model};

/// # Errors
/// Database failures.
pub async fn find_by_id(db: &impl ConnectionTrait, id: &str) -> DataResult<Option<Model>> {
    Ok(Invitation::find_by_id(id.to_owned()).one(db).await?)
}

/// Pending invitations addressed to `email`, oldest first.
///
/// # Errors
/// Database failures.
pub async fn pending_for_email(db: &impl ConnectionTrait, email: &str) -> DataResult<Vec<Model>> {
    Ok(Invitation::find()
        .filter(invitation::Column::Email.eq(email.to_lowercase()))
        .filter(invitation::Column::Status.eq("pending"))
        .order_by_asc(invitation::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Moves an invitation from `from` to `to` only if it is still in `from` (`None`: any status).
/// Returns whether this call made the change: of two concurrent accepts only one wins.
///
/// # Errors
/// Database failures.
pub async fn transition(
    db: &impl ConnectionTrait,
    id: &str,
    from: Option<&str>,
    to: &str,
) -> DataResult<bool> {
    let mut update = Invitation::update_many()
        .col_expr(invitation::Column::Status, sea_orm::sea_query::Expr::value(to))
        .filter(invitation::Column::Id.eq(id));
    if let Some(from) = from {
        update = update.filter(invitation::Column::Status.eq(from));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}
