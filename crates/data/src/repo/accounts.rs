//! Accounts: the credential (password) account and linked identities.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::DataResult;
use crate::entity::account::{self, ActiveModel, Entity as Account, Model};

pub const CREDENTIAL_PROVIDER: &str = "credential";

/// # Errors
/// Database failures.
pub async fn find_credential(db: &impl ConnectionTrait, user_id: &str) -> DataResult<Option<Model>> {
    Ok(Account::find()
        .filter(account::Column::UserId.eq(user_id))
        .filter(account::Column::ProviderId.eq(CREDENTIAL_PROVIDER))
        .one(db)
        .await?)
}

/// # Errors
/// Database failures.
pub async fn list_for_user(db: &impl ConnectionTrait, user_id: &str) -> DataResult<Vec<Model>> {
    Ok(Account::find()
        .filter(account::Column::UserId.eq(user_id))
        .all(db)
        .await?)
}

/// Creates the credential account, whose `accountId` is the user id, as Better Auth does.
///
/// # Errors
/// Database failures.
pub async fn insert_credential(
    db: &impl ConnectionTrait,
    id: String,
    user_id: &str,
    password_hash: String,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    insert_row(
        db,
        id,
        CREDENTIAL_PROVIDER,
        user_id,
        user_id,
        Some(password_hash),
        now,
    )
    .await
}

async fn insert_row(
    db: &impl ConnectionTrait,
    id: String,
    provider_id: &str,
    account_id: &str,
    user_id: &str,
    password: Option<String>,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let row = ActiveModel {
        id: Set(id),
        account_id: Set(account_id.to_owned()),
        provider_id: Set(provider_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        access_token: Set(None),
        refresh_token: Set(None),
        id_token: Set(None),
        access_token_expires_at: Set(None),
        refresh_token_expires_at: Set(None),
        scope: Set(None),
        password: Set(password),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

/// # Errors
/// Database failures.
pub async fn set_password(
    db: &impl ConnectionTrait,
    account: Model,
    password_hash: String,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let mut row: ActiveModel = account.into();
    row.password = Set(Some(password_hash));
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// # Errors
/// Database failures.
pub async fn delete_for_user(db: &impl ConnectionTrait, user_id: &str) -> DataResult<()> {
    Account::delete_many()
        .filter(account::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The account linking `(providerId, accountId)` to a user, if any.
///
/// # Errors
/// Database failures.
pub async fn find_linked(
    db: &impl ConnectionTrait,
    provider_id: &str,
    account_id: &str,
) -> DataResult<Option<Model>> {
    Ok(Account::find()
        .filter(account::Column::ProviderId.eq(provider_id))
        .filter(account::Column::AccountId.eq(account_id))
        .one(db)
        .await?)
}

/// Links an external identity (`providerId`, `accountId`) to a user, without tokens.
///
/// # Errors
/// Database failures.
pub async fn insert_linked(
    db: &impl ConnectionTrait,
    provider_id: &str,
    account_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let id = castellan_crypto::random::generate_id();
    insert_row(db, id, provider_id, account_id, user_id, None, now).await
}

/// Whether any account is linked through `provider_id`.
///
/// # Errors
/// Database failures.
pub async fn any_for_provider(db: &impl ConnectionTrait, provider_id: &str) -> DataResult<bool> {
    Ok(Account::find()
        .filter(account::Column::ProviderId.eq(provider_id))
        .one(db)
        .await?
        .is_some())
}
