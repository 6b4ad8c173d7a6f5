//! Users. Emails are stored and looked up lower-case.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionSession, TransactionTrait,
};

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

/// The `user.*` events' payload: the profile, never credentials.
#[must_use]
pub fn event_data(user: &Model) -> serde_json::Value {
    serde_json::json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "emailVerified": user.email_verified,
        "image": user.image,
        "createdAt": crate::clock::iso(&user.created_at),
    })
}

/// Inserts the user and its `user.created` event together.
///
/// # Errors
/// [`crate::DataError::Conflict`] when the email is taken.
pub async fn insert<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: NewUser,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let txn = crate::begin_write(db).await?;
    let user = insert_row(&txn, new, now).await?;
    super::events::emit(
        &txn,
        super::events::Event {
            organization_id: None,
            kind: "user.created",
            data: event_data(&user),
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

async fn insert_row(db: &impl ConnectionTrait, new: NewUser, now: DateTime<Utc>) -> DataResult<Model> {
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
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    id: &str,
    now: DateTime<Utc>,
) -> DataResult<()> {
    let txn = crate::begin_write(db).await?;
    let user = find_by_id(&txn, id).await?;
    super::sessions::delete_for_user(&txn, id, now).await?;
    super::accounts::delete_for_user(&txn, id).await?;
    super::passkeys::delete_for_user(&txn, id).await?;
    User::delete_by_id(id.to_owned()).exec(&txn).await?;
    if let Some(user) = user {
        super::events::emit(
            &txn,
            super::events::Event {
                organization_id: None,
                kind: "user.deleted",
                data: event_data(&user),
            },
            now,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A column admins may search, filter or sort users by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    Id,
    Name,
    Email,
    EmailVerified,
    Role,
    Banned,
    CreatedAt,
    UpdatedAt,
}

impl UserField {
    /// Better Auth's field names; `None` for anything else.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "id" => Self::Id,
            "name" => Self::Name,
            "email" => Self::Email,
            "emailVerified" => Self::EmailVerified,
            "role" => Self::Role,
            "banned" => Self::Banned,
            "createdAt" => Self::CreatedAt,
            "updatedAt" => Self::UpdatedAt,
            _ => return None,
        })
    }

    fn column(self) -> user::Column {
        match self {
            Self::Id => user::Column::Id,
            Self::Name => user::Column::Name,
            Self::Email => user::Column::Email,
            Self::EmailVerified => user::Column::EmailVerified,
            Self::Role => user::Column::Role,
            Self::Banned => user::Column::Banned,
            Self::CreatedAt => user::Column::CreatedAt,
            Self::UpdatedAt => user::Column::UpdatedAt,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextMatch {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Eq(sea_orm::Value),
    Ne(sea_orm::Value),
    Lt(sea_orm::Value),
    Lte(sea_orm::Value),
    Gt(sea_orm::Value),
    Gte(sea_orm::Value),
    In(Vec<sea_orm::Value>),
    NotIn(Vec<sea_orm::Value>),
    Text(TextMatch, String),
}

/// An admin's user listing: search, filter, sort and page.
#[derive(Debug, Default, Clone)]
pub struct UserQuery {
    pub search: Option<(UserField, TextMatch, String)>,
    pub filter: Option<(UserField, Filter)>,
    pub sort: Option<(UserField, bool)>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

fn text_condition(col: user::Column, how: TextMatch, value: &str) -> sea_orm::sea_query::SimpleExpr {
    match how {
        TextMatch::Contains => col.contains(value),
        TextMatch::StartsWith => col.starts_with(value),
        TextMatch::EndsWith => col.ends_with(value),
    }
}

/// Every user matching the query (admin code only: users are not organization-scoped), and the
/// total before paging.
///
/// # Errors
/// Database failures.
pub async fn list(db: &impl ConnectionTrait, q: &UserQuery) -> DataResult<(Vec<Model>, u64)> {
    use sea_orm::{PaginatorTrait, QueryOrder, QuerySelect};
    let mut query = User::find();
    if let Some((field, how, value)) = &q.search {
        query = query.filter(text_condition(field.column(), *how, value));
    }
    if let Some((field, filter)) = &q.filter {
        let col = field.column();
        query = query.filter(match filter {
            Filter::Eq(v) => col.eq(v.clone()),
            Filter::Ne(v) => col.ne(v.clone()),
            Filter::Lt(v) => col.lt(v.clone()),
            Filter::Lte(v) => col.lte(v.clone()),
            Filter::Gt(v) => col.gt(v.clone()),
            Filter::Gte(v) => col.gte(v.clone()),
            Filter::In(vs) => col.is_in(vs.clone()),
            Filter::NotIn(vs) => col.is_not_in(vs.clone()),
            Filter::Text(how, v) => text_condition(col, *how, v),
        });
    }
    let total = query.clone().count(db).await?;
    query = match q.sort {
        Some((field, true)) => query.order_by_desc(field.column()),
        Some((field, false)) => query.order_by_asc(field.column()),
        None => query.order_by_asc(user::Column::CreatedAt),
    };
    // Bounded so user-supplied numbers stay inside SQL's signed integers.
    let rows = query
        .limit(q.limit.unwrap_or(100).min(1_000))
        .offset(q.offset.unwrap_or(0).min(i64::MAX as u64))
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Admin changes to a user row. `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct AdminChange {
    pub name: Option<String>,
    pub image: Option<Option<String>>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub role: Option<String>,
    pub ban: Option<(bool, Option<String>, Option<DateTime<Utc>>)>,
}

/// # Errors
/// [`crate::DataError::Conflict`] for a taken email; database failures.
pub async fn admin_update(
    db: &impl ConnectionTrait,
    current: Model,
    change: AdminChange,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let mut row: ActiveModel = current.into();
    if let Some(v) = change.name {
        row.name = Set(v);
    }
    if let Some(v) = change.image {
        row.image = Set(v);
    }
    if let Some(v) = change.email {
        row.email = Set(v.to_lowercase());
    }
    if let Some(v) = change.email_verified {
        row.email_verified = Set(v);
    }
    if let Some(v) = change.role {
        row.role = Set(Some(v));
    }
    if let Some((banned, reason, expires)) = change.ban {
        row.banned = Set(Some(banned));
        row.ban_reason = Set(reason);
        row.ban_expires = Set(expires);
    }
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Turns the two-factor flag on or off.
///
/// # Errors
/// Database failures.
pub async fn set_two_factor(
    db: &impl ConnectionTrait,
    current: Model,
    enabled: bool,
    now: DateTime<Utc>,
) -> DataResult<Model> {
    let mut row: ActiveModel = current.into();
    row.two_factor_enabled = Set(Some(enabled));
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}
