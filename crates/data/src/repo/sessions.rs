//! Session rows. The database is the source of truth; caches sit in `castellan-session`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionSession, TransactionTrait,
};

use crate::DataResult;
use crate::entity::session::{self, ActiveModel, Entity as Session, Model};

pub struct NewSession {
    pub id: String,
    pub token: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    pub ip_address: String,
    pub user_agent: String,
    pub impersonated_by: Option<String>,
    pub auth_method: String,
    pub auth_connection_id: Option<String>,
}

/// The `session.*` events' payload: who, how and from where, never the token.
fn event_data(row: &Model) -> serde_json::Value {
    serde_json::json!({
        "id": row.id,
        "userId": row.user_id,
        "authMethod": row.auth_method,
        "authConnectionId": row.auth_connection_id,
        "impersonatedBy": row.impersonated_by,
        "ipAddress": row.ip_address,
        "userAgent": row.user_agent,
        "expiresAt": crate::clock::iso(&row.expires_at),
        "createdAt": crate::clock::iso(&row.created_at),
    })
}

async fn emit(db: &impl ConnectionTrait, kind: &str, row: &Model, now: DateTime<Utc>) -> DataResult<()> {
    super::events::emit(
        db,
        super::events::Event {
            organization_id: None,
            kind,
            data: event_data(row),
        },
        now,
    )
    .await
}

/// Deletes the sessions `filter` selects, with a `session.revoked` event for each.
async fn revoke_where<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    filter: sea_orm::Condition,
    now: DateTime<Utc>,
) -> DataResult<u64> {
    let txn = crate::begin_write(db).await?;
    let rows = Session::find().filter(filter.clone()).all(&txn).await?;
    let res = Session::delete_many().filter(filter).exec(&txn).await?;
    for row in &rows {
        emit(&txn, "session.revoked", row, now).await?;
    }
    txn.commit().await?;
    Ok(res.rows_affected)
}

/// Inserts the session and its `session.created` event together.
///
/// # Errors
/// Database failures.
pub async fn insert<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: NewSession,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let txn = crate::begin_write(db).await?;
    let row = insert_row(&txn, new, now).await?;
    emit(&txn, "session.created", &row, now).await?;
    txn.commit().await?;
    Ok(row)
}

async fn insert_row(db: &impl ConnectionTrait, new: NewSession, now: DateTime<Utc>) -> DataResult<Model> {
    let row = ActiveModel {
        id: Set(new.id),
        expires_at: Set(new.expires_at),
        token: Set(new.token),
        created_at: Set(now),
        updated_at: Set(now),
        ip_address: Set(Some(new.ip_address)),
        user_agent: Set(Some(new.user_agent)),
        user_id: Set(new.user_id),
        active_organization_id: Set(None),
        active_team_id: Set(None),
        impersonated_by: Set(new.impersonated_by),
        auth_method: Set(Some(new.auth_method)),
        auth_connection_id: Set(new.auth_connection_id),
        authenticated_at: Set(Some(now)),
    };
    Ok(row.insert(db).await?)
}

/// # Errors
/// Database failures.
pub async fn find_by_token(db: &impl ConnectionTrait, token: &str) -> DataResult<Option<Model>> {
    Ok(Session::find()
        .filter(session::Column::Token.eq(token))
        .one(db)
        .await?)
}

/// Unexpired sessions of a user, oldest first.
///
/// # Errors
/// Database failures.
pub async fn list_active_for_user(
    db: &impl ConnectionTrait,
    user_id: &str,
    now: DateTime<Utc>,
) -> DataResult<Vec<Model>> {
    let rows = Session::find()
        .filter(session::Column::UserId.eq(user_id))
        .order_by_asc(session::Column::CreatedAt)
        .all(db)
        .await?;
    // Compared in Rust: on SQLite dates are text, and a database shared with Better Auth may
    // hold both `Z` and `+00:00` spellings.
    Ok(rows.into_iter().filter(|s| s.expires_at > now).collect())
}

/// Tokens of every session of a user (for cache invalidation).
///
/// # Errors
/// Database failures.
pub async fn tokens_for_user(db: &impl ConnectionTrait, user_id: &str) -> DataResult<Vec<String>> {
    let rows = Session::find()
        .filter(session::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|s| s.token).collect())
}

/// Moves the expiry forward (Better Auth's `updateAge` refresh). Returns `None` when the row is
/// gone, i.e. it was revoked concurrently.
///
/// # Errors
/// Database failures.
pub async fn extend(
    db: &impl ConnectionTrait,
    token: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DataResult<bool> {
    let res = Session::update_many()
        .col_expr(
            session::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(expires_at),
        )
        .col_expr(session::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(session::Column::Token.eq(token))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Removes a session found expired (no event: nobody revoked it).
///
/// # Errors
/// Database failures.
pub async fn delete_expired(db: &impl ConnectionTrait, token: &str, now: DateTime<Utc>) -> DataResult<()> {
    Session::delete_many()
        .filter(session::Column::Token.eq(token))
        .filter(session::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes a session, with its `session.revoked` event.
///
/// # Errors
/// Database failures.
pub async fn delete_by_token<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    token: &str,
    now: DateTime<Utc>,
) -> DataResult<bool> {
    let filter = sea_orm::Condition::all().add(session::Column::Token.eq(token));
    Ok(revoke_where(db, filter, now).await? > 0)
}

/// # Errors
/// Database failures.
pub async fn delete_for_user<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    user_id: &str,
    now: DateTime<Utc>,
) -> DataResult<()> {
    let filter = sea_orm::Condition::all().add(session::Column::UserId.eq(user_id));
    revoke_where(db, filter, now).await?;
    Ok(())
}

/// # Errors
/// Database failures.
pub async fn delete_for_user_except<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    user_id: &str,
    keep_token: &str,
    now: DateTime<Utc>,
) -> DataResult<()> {
    let filter = sea_orm::Condition::all()
        .add(session::Column::UserId.eq(user_id))
        .add(session::Column::Token.ne(keep_token));
    revoke_where(db, filter, now).await?;
    Ok(())
}

/// Saves a changed row (used by other services for `activeOrganizationId` and the like).
///
/// # Errors
/// Database failures.
pub async fn update(db: &impl ConnectionTrait, row: ActiveModel) -> DataResult<Model> {
    Ok(row.update(db).await?)
}
