//! Users. Emails are stored and looked up lower-case.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::DataResult;
use crate::entity::user::{self, ActiveModel, Entity as User, Model};

pub struct NewUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub image: Option<String>,
    pub email_verified: bool,
    pub role: Option<String>,
}

/// # Errors
/// Database failures.
pub async fn find_by_id(db: &impl ConnectionTrait, id: &str) -> DataResult<Option<Model>> {
    Ok(User::find_by_id(id.to_owned()).one(db).await?)
}

/// # Errors
/// Database failures.
pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> DataResult<Option<Model>> {
    Ok(User::find()
        .filter(user::Column::Email.eq(email.to_lowercase()))
        .one(db)
        .await?)
}

/// # Errors
/// [`crate::DataError::Conflict`] when the email is taken.
pub async fn insert(db: &impl ConnectionTrait, new: NewUser, now: DateTime<Utc>) -> DataResult<Model> {
    let row = ActiveModel {
        id: Set(new.id),
        name: Set(new.name),
        email: Set(new.email.to_lowercase()),
        email_verified: Set(new.email_verified),
        image: Set(new.image),
        created_at: Set(now),
        updated_at: Set(now),
        role: Set(new.role),
        banned: Set(Some(false)),
        ban_reason: Set(None),
        ban_expires: Set(None),
        two_factor_enabled: Set(Some(false)),
    };
    Ok(row.insert(db).await?)
}

/// Profile fields a user may change about themselves. `None` leaves a field alone;
/// `Some(None)` clears the image.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub image: Option<Option<String>>,
}

/// # Errors
/// Database failures.
pub async fn update_profile(
    db: &impl ConnectionTrait,
    current: Model,
    change: ProfileChange,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let mut row: ActiveModel = current.into();
    if let Some(name) = change.name {
        row.name = Set(name);
    }
    if let Some(image) = change.image {
        row.image = Set(image);
    }
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Marks the email verified and, for an email change, switches to the new address.
///
/// # Errors
/// [`crate::DataError::Conflict`] when the new address was taken meanwhile.
pub async fn set_email(
    db: &impl ConnectionTrait,
    current: Model,
    email: &str,
    verified: bool,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let mut row: ActiveModel = current.into();
    row.email = Set(email.to_lowercase());
    row.email_verified = Set(verified);
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Deletes the user; sessions and accounts go with it (`ON DELETE CASCADE`, and explicitly, for
/// databases created without enforced foreign keys).
///
/// # Errors
/// Database failures.
pub async fn delete(db: &impl ConnectionTrait, id: &str) -> DataResult<()> {
    super::sessions::delete_for_user(db, id).await?;
    super::accounts::delete_for_user(db, id).await?;
    User::delete_by_id(id.to_owned()).exec(db).await?;
    Ok(())
}
