//! The organization's invitations.

use castellan_data::entity::invitation;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::grant::{InvitationCancel, InvitationCreate};
use crate::scope::{OrgScope, Permit};

/// Every invitation of the organization (all statuses). Needs `invitation:create`, as in
/// Better Auth 1.7.25.
///
/// # Errors
/// Database failures.
pub async fn invitations(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
) -> Result<Vec<invitation::Model>, DbErr> {
    invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .order_by_asc(invitation::Column::CreatedAt)
        .all(db)
        .await
}

/// A pending, unexpired invitation of `email` to the organization.
///
/// # Errors
/// Database failures.
pub async fn pending_invitation_for(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    email: &str,
    now: DateTime<Utc>,
) -> Result<Option<invitation::Model>, DbErr> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .filter(invitation::Column::Email.eq(email.to_lowercase()))
        .filter(invitation::Column::Status.eq("pending"))
        .all(db)
        .await?;
    Ok(rows.into_iter().find(|i| i.expires_at > now))
}

/// How many pending, unexpired invitations the organization has.
///
/// # Errors
/// Database failures.
pub async fn pending_invitation_count(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .filter(invitation::Column::Status.eq("pending"))
        .all(db)
        .await?;
    Ok(rows.into_iter().filter(|i| i.expires_at > now).count())
}

/// Creates an invitation. Needs `invitation:create`.
///
/// # Errors
/// Database failures.
pub async fn create_invitation(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    row: invitation::Model,
) -> Result<invitation::Model, DbErr> {
    let row = invitation::Model {
        organization_id: permit.org_id().to_owned(),
        ..row
    };
    let active: invitation::ActiveModel = row.clone().into();
    invitation::Entity::insert(active.reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// An invitation of the organization by id.
///
/// # Errors
/// Database failures.
pub async fn invitation_by_id(
    db: &impl ConnectionTrait,
    scope: &OrgScope,
    id: &str,
) -> Result<Option<invitation::Model>, DbErr> {
    invitation::Entity::find_by_id(id.to_owned())
        .filter(invitation::Column::OrganizationId.eq(scope.org_id()))
        .one(db)
        .await
}

/// Marks an invitation of the permit's organization canceled. Needs `invitation:cancel`.
///
/// # Errors
/// Database failures.
pub async fn cancel_invitation(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCancel>,
    invitation_id: &str,
) -> Result<bool, DbErr> {
    let res = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Status,
            sea_orm::sea_query::Expr::value("canceled"),
        )
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Pushes out a pending invitation's expiry (a resend). Needs `invitation:create`.
///
/// # Errors
/// Database failures.
pub async fn extend_invitation(
    db: &impl ConnectionTrait,
    permit: &Permit<'_, InvitationCreate>,
    invitation_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(expires_at),
        )
        .filter(invitation::Column::Id.eq(invitation_id))
        .filter(invitation::Column::OrganizationId.eq(permit.org_id()))
        .exec(db)
        .await?;
    Ok(())
}

// SSO connections. An organization's connection is reached only with a permit of that
// organization; a personal one (no organization) with none, its registrant having been checked by
// the caller. Anything else fails closed as `RecordNotFound`.
