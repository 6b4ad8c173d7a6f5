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

/// What a provider issued, as stored: the token columns hold sealed values (the caller seals
/// them; Better Auth's `encryptOAuthTokens` format).
#[derive(Debug, Clone, Default)]
pub struct StoredTokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    /// Comma-separated, as Better Auth stores it.
    pub scope: Option<String>,
}

/// Links a provider identity to a user, with its tokens.
///
/// # Errors
/// [`crate::DataError::Conflict`] when the identity is linked already (concurrently).
pub async fn insert_oauth(
    db: &impl ConnectionTrait,
    provider_id: &str,
    account_id: &str,
    user_id: &str,
    tokens: StoredTokens,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let row = ActiveModel {
        id: Set(castellan_crypto::random::generate_id()),
        account_id: Set(account_id.to_owned()),
        provider_id: Set(provider_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        access_token: Set(tokens.access_token),
        refresh_token: Set(tokens.refresh_token),
        id_token: Set(tokens.id_token),
        access_token_expires_at: Set(tokens.access_token_expires_at),
        refresh_token_expires_at: Set(tokens.refresh_token_expires_at),
        scope: Set(tokens.scope),
        password: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

/// Replaces an account's tokens. A refresh token the provider did not re-issue is kept.
///
/// # Errors
/// Database failures.
pub async fn store_tokens(
    db: &impl ConnectionTrait,
    account: Model,
    tokens: StoredTokens,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let mut row: ActiveModel = account.into();
    row.access_token = Set(tokens.access_token);
    if tokens.refresh_token.is_some() {
        row.refresh_token = Set(tokens.refresh_token);
        row.refresh_token_expires_at = Set(tokens.refresh_token_expires_at);
    }
    if tokens.id_token.is_some() {
        row.id_token = Set(tokens.id_token);
    }
    row.access_token_expires_at = Set(tokens.access_token_expires_at);
    if tokens.scope.is_some() {
        row.scope = Set(tokens.scope);
    }
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// One of the user's accounts by its local id.
///
/// # Errors
/// Database failures.
pub async fn find_for_user(db: &impl ConnectionTrait, user_id: &str, id: &str) -> DataResult<Option<Model>> {
    Ok(Account::find_by_id(id.to_owned())
        .filter(account::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// Removes one of the user's accounts; whether it was there.
///
/// # Errors
/// Database failures.
pub async fn delete_for_user_by_id(db: &impl ConnectionTrait, user_id: &str, id: &str) -> DataResult<bool> {
    let done = Account::delete_many()
        .filter(account::Column::Id.eq(id))
        .filter(account::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}
