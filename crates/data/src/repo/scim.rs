//! SCIM connections and the users they provisioned. A connection's users are read and changed
//! only through the connection: one directory never sees another's users.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::DataResult;
use crate::entity::scim_connection::{self, Entity as Connection};
use crate::entity::scim_group::{self, Entity as ScimGroup};
use crate::entity::scim_group_member::{self, Entity as GroupMember};
use crate::entity::scim_user::{self, Entity as ScimUser};

/// Most users (or groups) one connection lists (a directory larger than this pages with
/// filters).
pub const MAX_USERS: u64 = 10_000;

/// The connection named `provider_id`, whatever its organization.
///
/// # Errors
/// Database failures.
pub async fn find_connection(
    db: &impl ConnectionTrait,
    provider_id: &str,
) -> DataResult<Option<scim_connection::Model>> {
    Ok(Connection::find()
        .filter(scim_connection::Column::ProviderId.eq(provider_id))
        .one(db)
        .await?)
}

/// The organization's connections, oldest first.
///
/// # Errors
/// Database failures.
pub async fn connections_of(
    db: &impl ConnectionTrait,
    organization_id: &str,
) -> DataResult<Vec<scim_connection::Model>> {
    Ok(Connection::find()
        .filter(scim_connection::Column::OrganizationId.eq(organization_id))
        .order_by_asc(scim_connection::Column::CreatedAt)
        .limit(1_000)
        .all(db)
        .await?)
}

/// # Errors
/// [`crate::DataError::Conflict`] when the `providerId` is taken.
pub async fn insert_connection(
    db: &impl ConnectionTrait,
    row: scim_connection::Model,
) -> DataResult<scim_connection::Model> {
    Ok(row.into_active_model().reset_all().insert(db).await?)
}

/// A new token for an existing connection (the old one stops working at once).
///
/// # Errors
/// Database failures.
pub async fn replace_token(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    token_hash: String,
    now: DateTime<Utc>,
) -> DataResult<scim_connection::Model> {
    let mut row = connection.clone().into_active_model();
    row.token_hash = Set(token_hash);
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Deletes the organization's connection `provider_id` with its user links; `false` when the
/// organization has no such connection.
///
/// # Errors
/// Database failures.
pub async fn delete_connection(
    db: &impl ConnectionTrait,
    organization_id: &str,
    provider_id: &str,
) -> DataResult<bool> {
    let Some(row) = Connection::find()
        .filter(scim_connection::Column::ProviderId.eq(provider_id))
        .filter(scim_connection::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    // The groups' members, the groups and the users go with the connection (as the foreign
    // keys would cascade, where the database enforces them).
    let groups: Vec<String> = ScimGroup::find()
        .select_only()
        .column(scim_group::Column::Id)
        .filter(scim_group::Column::ConnectionId.eq(&row.id))
        .into_tuple()
        .all(db)
        .await?;
    GroupMember::delete_many()
        .filter(scim_group_member::Column::GroupId.is_in(groups))
        .exec(db)
        .await?;
    ScimGroup::delete_many()
        .filter(scim_group::Column::ConnectionId.eq(&row.id))
        .exec(db)
        .await?;
    ScimUser::delete_many()
        .filter(scim_user::Column::ConnectionId.eq(&row.id))
        .exec(db)
        .await?;
    Connection::delete_by_id(row.id).exec(db).await?;
    Ok(true)
}

/// The connection's user `user_id`.
///
/// # Errors
/// Database failures.
pub async fn find_user(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_id: &str,
) -> DataResult<Option<scim_user::Model>> {
    Ok(ScimUser::find_by_id((connection.id.clone(), user_id.to_owned()))
        .one(db)
        .await?)
}

/// The connection's user `user_id`, locked until the transaction `db` ends: a concurrent change
/// of the same user waits, then reads what this one wrote.
///
/// # Errors
/// Database failures.
pub async fn lock_user(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_id: &str,
) -> DataResult<Option<scim_user::Model>> {
    ScimUser::update_many()
        .col_expr(scim_user::Column::Version, Expr::col(scim_user::Column::Version))
        .filter(scim_user::Column::ConnectionId.eq(&connection.id))
        .filter(scim_user::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    find_user(db, connection, user_id).await
}

/// Which of `user_ids` the connection provisioned, in one query.
///
/// # Errors
/// Database failures.
pub async fn provisioned_among(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_ids: &[String],
) -> DataResult<Vec<String>> {
    Ok(ScimUser::find()
        .select_only()
        .column(scim_user::Column::UserId)
        .filter(scim_user::Column::ConnectionId.eq(&connection.id))
        .filter(scim_user::Column::UserId.is_in(user_ids))
        .into_tuple()
        .all(db)
        .await?)
}

/// The connection's user with this `userName` (compared lower-case).
///
/// # Errors
/// Database failures.
pub async fn find_user_by_name(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_name_key: &str,
) -> DataResult<Option<scim_user::Model>> {
    Ok(ScimUser::find()
        .filter(scim_user::Column::ConnectionId.eq(&connection.id))
        .filter(scim_user::Column::UserNameKey.eq(user_name_key))
        .one(db)
        .await?)
}

/// The connection's users, oldest first (at most [`MAX_USERS`]).
///
/// # Errors
/// Database failures.
pub async fn users(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
) -> DataResult<Vec<scim_user::Model>> {
    Ok(ScimUser::find()
        .filter(scim_user::Column::ConnectionId.eq(&connection.id))
        .order_by_asc(scim_user::Column::CreatedAt)
        .order_by_asc(scim_user::Column::UserId)
        .limit(MAX_USERS)
        .all(db)
        .await?)
}

/// # Errors
/// [`crate::DataError::Conflict`] when the `userName` is taken in the connection.
pub async fn insert_user(db: &impl ConnectionTrait, row: scim_user::Model) -> DataResult<scim_user::Model> {
    Ok(row.into_active_model().reset_all().insert(db).await?)
}

/// Saves a changed user (its `version` one higher).
///
/// # Errors
/// [`crate::DataError::Conflict`] when the new `userName` is taken in the connection.
pub async fn update_user(db: &impl ConnectionTrait, row: scim_user::Model) -> DataResult<scim_user::Model> {
    let mut active = row.into_active_model().reset_all();
    active.connection_id = sea_orm::ActiveValue::Unchanged(active.connection_id.take().unwrap_or_default());
    active.user_id = sea_orm::ActiveValue::Unchanged(active.user_id.take().unwrap_or_default());
    Ok(active.update(db).await?)
}

/// Forgets the connection's user, and takes them out of the connection's groups.
///
/// # Errors
/// Database failures.
pub async fn delete_user(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_id: &str,
) -> DataResult<()> {
    let groups: Vec<String> = groups(db, connection).await?.into_iter().map(|g| g.id).collect();
    GroupMember::delete_many()
        .filter(scim_group_member::Column::GroupId.is_in(groups))
        .filter(scim_group_member::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    ScimUser::delete_by_id((connection.id.clone(), user_id.to_owned()))
        .exec(db)
        .await?;
    Ok(())
}

/// The connection's group `id`.
///
/// # Errors
/// Database failures.
pub async fn find_group(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    id: &str,
) -> DataResult<Option<scim_group::Model>> {
    Ok(ScimGroup::find_by_id(id.to_owned())
        .filter(scim_group::Column::ConnectionId.eq(&connection.id))
        .one(db)
        .await?)
}

/// The connection's group `id`, locked until the transaction `db` ends (as [`lock_user`]).
///
/// # Errors
/// Database failures.
pub async fn lock_group(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    id: &str,
) -> DataResult<Option<scim_group::Model>> {
    ScimGroup::update_many()
        .col_expr(
            scim_group::Column::Version,
            Expr::col(scim_group::Column::Version),
        )
        .filter(scim_group::Column::ConnectionId.eq(&connection.id))
        .filter(scim_group::Column::Id.eq(id))
        .exec(db)
        .await?;
    find_group(db, connection, id).await
}

/// The connection's group with this `displayName` (compared lower-case).
///
/// # Errors
/// Database failures.
pub async fn find_group_by_name(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    display_name_key: &str,
) -> DataResult<Option<scim_group::Model>> {
    Ok(ScimGroup::find()
        .filter(scim_group::Column::ConnectionId.eq(&connection.id))
        .filter(scim_group::Column::DisplayNameKey.eq(display_name_key))
        .one(db)
        .await?)
}

/// The members of each of `groups`, in one query.
///
/// # Errors
/// Database failures.
pub async fn members_of_groups(
    db: &impl ConnectionTrait,
    groups: &[scim_group::Model],
) -> DataResult<std::collections::HashMap<String, Vec<String>>> {
    let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let pairs: Vec<(String, String)> = GroupMember::find()
        .select_only()
        .column(scim_group_member::Column::GroupId)
        .column(scim_group_member::Column::UserId)
        .filter(scim_group_member::Column::GroupId.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (group, user) in pairs {
        out.entry(group).or_default().push(user);
    }
    Ok(out)
}

/// The connection's groups, oldest first (at most [`MAX_USERS`]).
///
/// # Errors
/// Database failures.
pub async fn groups(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
) -> DataResult<Vec<scim_group::Model>> {
    Ok(ScimGroup::find()
        .filter(scim_group::Column::ConnectionId.eq(&connection.id))
        .order_by_asc(scim_group::Column::CreatedAt)
        .order_by_asc(scim_group::Column::Id)
        .limit(MAX_USERS)
        .all(db)
        .await?)
}

/// # Errors
/// [`crate::DataError::Conflict`] when the `displayName` is taken in the connection.
pub async fn insert_group(
    db: &impl ConnectionTrait,
    row: scim_group::Model,
) -> DataResult<scim_group::Model> {
    Ok(row.into_active_model().reset_all().insert(db).await?)
}

/// Saves a changed group.
///
/// # Errors
/// [`crate::DataError::Conflict`] when the new `displayName` is taken in the connection.
pub async fn update_group(
    db: &impl ConnectionTrait,
    row: scim_group::Model,
) -> DataResult<scim_group::Model> {
    let mut active = row.into_active_model().reset_all();
    active.id = sea_orm::ActiveValue::Unchanged(active.id.take().unwrap_or_default());
    Ok(active.update(db).await?)
}

/// # Errors
/// Database failures.
pub async fn delete_group(db: &impl ConnectionTrait, group: &scim_group::Model) -> DataResult<()> {
    GroupMember::delete_many()
        .filter(scim_group_member::Column::GroupId.eq(&group.id))
        .exec(db)
        .await?;
    ScimGroup::delete_by_id(group.id.clone()).exec(db).await?;
    Ok(())
}

/// The users in `group`.
///
/// # Errors
/// Database failures.
pub async fn group_members(db: &impl ConnectionTrait, group: &scim_group::Model) -> DataResult<Vec<String>> {
    Ok(GroupMember::find()
        .select_only()
        .column(scim_group_member::Column::UserId)
        .filter(scim_group_member::Column::GroupId.eq(&group.id))
        .into_tuple()
        .all(db)
        .await?)
}

/// Makes `users` the members of `group`.
///
/// # Errors
/// Database failures.
pub async fn set_group_members(
    db: &impl ConnectionTrait,
    group: &scim_group::Model,
    users: &[String],
) -> DataResult<()> {
    GroupMember::delete_many()
        .filter(scim_group_member::Column::GroupId.eq(&group.id))
        .exec(db)
        .await?;
    if users.is_empty() {
        return Ok(());
    }
    let rows = users.iter().map(|u| scim_group_member::ActiveModel {
        group_id: Set(group.id.clone()),
        user_id: Set(u.clone()),
    });
    GroupMember::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// The connection's groups `user_id` belongs to.
///
/// # Errors
/// Database failures.
pub async fn groups_of_user(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_id: &str,
) -> DataResult<Vec<scim_group::Model>> {
    let ids: Vec<String> = GroupMember::find()
        .select_only()
        .column(scim_group_member::Column::GroupId)
        .filter(scim_group_member::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ScimGroup::find()
        .filter(scim_group::Column::ConnectionId.eq(&connection.id))
        .filter(scim_group::Column::Id.is_in(ids))
        .all(db)
        .await?)
}
