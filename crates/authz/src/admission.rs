//! The ways into an organization that no member's permit authorizes, as named operations:
//! creating one (the creator becomes its owner), joining by an invitation (authorized as its
//! addressee), being provisioned by an SSO connection (authorized by the connection's
//! configuration), and being provisioned or deprovisioned by a SCIM connection (authorized by
//! its bearer token). Each states what authorizes it in its arguments, and none takes a plain
//! organization id from a request.

use castellan_data::DataError;
use castellan_data::entity::{
    invitation, member, organization, scim_connection, sso_provider, team, team_member,
};
use castellan_data::repo::invitations;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter,
};

use crate::memberships::MembershipChange;
use crate::repo::lock_organization_id;
use crate::scope::OrgScope;

/// A new organization with its owner, its default team and the owner's seat in it.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub organization: organization::Model,
    pub owner: member::Model,
    pub default_team: team::Model,
    pub owner_seat: team_member::Model,
}

/// Creates an organization and makes its creator the owner.
///
/// # Errors
/// Database failures; a unique violation when the slug is taken.
pub async fn create_organization(db: &impl ConnectionTrait, new: &NewOrganization) -> Result<(), DbErr> {
    organization::Entity::insert(organization::ActiveModel::from(new.organization.clone()))
        .exec_without_returning(db)
        .await?;
    let owner = member::Model {
        organization_id: new.organization.id.clone(),
        ..new.owner.clone()
    };
    member::Entity::insert(member::ActiveModel::from(owner))
        .exec_without_returning(db)
        .await?;
    let team = team::Model {
        organization_id: new.organization.id.clone(),
        ..new.default_team.clone()
    };
    team::Entity::insert(team::ActiveModel::from(team))
        .exec_without_returning(db)
        .await?;
    team_member::Entity::insert(team_member::ActiveModel::from(new.owner_seat.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// How joining by an invitation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    Joined,
    MembershipLimitReached,
    /// Another accept (or a cancel) got there first.
    InvitationNoLongerPending,
    AlreadyMember,
}

/// The invitation's addressee joins its organization (and its teams), once: the organization
/// row is locked so the membership limit stays exact, and the pending → accepted step is a
/// guarded update. Run it in a transaction.
///
/// # Errors
/// Database failures.
pub async fn join_by_invitation(
    db: &impl ConnectionTrait,
    invitation: &invitation::Model,
    member: &member::Model,
    seats: &[team_member::Model],
    membership_limit: u64,
) -> Result<Joined, DataError> {
    let org_id = invitation.organization_id.as_str();
    lock_organization_id(db, org_id).await?;
    let members = member::Entity::find().filter(member::Column::OrganizationId.eq(org_id));
    if members.clone().count(db).await? >= membership_limit {
        return Ok(Joined::MembershipLimitReached);
    }
    if !invitations::transition(db, &invitation.id, Some("pending"), "accepted").await? {
        return Ok(Joined::InvitationNoLongerPending);
    }
    if members
        .filter(member::Column::UserId.eq(member.user_id.as_str()))
        .count(db)
        .await?
        > 0
    {
        return Ok(Joined::AlreadyMember);
    }
    // Only teams of the invitation's organization are joined.
    for seat in seats {
        let in_org = team::Entity::find_by_id(seat.team_id.clone())
            .filter(team::Column::OrganizationId.eq(org_id))
            .one(db)
            .await?
            .is_some();
        if in_org {
            team_member::Entity::insert(team_member::ActiveModel::from(seat.clone()))
                .exec_without_returning(db)
                .await?;
        }
    }
    let member = member::Model {
        organization_id: org_id.to_owned(),
        ..member.clone()
    };
    member::Entity::insert(member::ActiveModel::from(member))
        .exec_without_returning(db)
        .await?;
    Ok(Joined::Joined)
}

/// Whether the person who sent an invitation is still a member of its organization.
///
/// # Errors
/// Database failures.
pub async fn inviter_is_member(
    db: &impl ConnectionTrait,
    invitation: &invitation::Model,
) -> Result<bool, DbErr> {
    Ok(member::Entity::find()
        .filter(member::Column::OrganizationId.eq(invitation.organization_id.as_str()))
        .filter(member::Column::UserId.eq(invitation.inviter_id.as_str()))
        .count(db)
        .await?
        > 0)
}

/// The organization an invitation is to.
///
/// # Errors
/// Database failures.
pub async fn invitation_organization(
    db: &impl ConnectionTrait,
    invitation: &invitation::Model,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find_by_id(invitation.organization_id.clone())
        .one(db)
        .await
}

/// The organization an API key belongs to, when its reference is one (a user's key has none).
///
/// # Errors
/// Database failures.
pub async fn api_key_organization(
    db: &impl ConnectionTrait,
    key: &castellan_data::entity::api_key::Model,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find_by_id(key.reference_id.clone())
        .one(db)
        .await
}

/// The organization an SSO connection provisions into, when it has one that still exists.
///
/// # Errors
/// Database failures.
pub async fn connection_organization(
    db: &impl ConnectionTrait,
    connection: &sso_provider::Model,
) -> Result<Option<organization::Model>, DbErr> {
    match connection.organization_id.clone() {
        Some(id) => organization::Entity::find_by_id(id).one(db).await,
        None => Ok(None),
    }
}

/// A user the connection signed in joins the connection's organization with `role`.
///
/// # Errors
/// Database failures; `RecordNotFound` for a member of another organization than the
/// connection's.
pub async fn provision_member(
    db: &impl ConnectionTrait,
    connection: &sso_provider::Model,
    member: member::Model,
) -> Result<(), DbErr> {
    if connection.organization_id.as_deref() != Some(member.organization_id.as_str()) {
        return Err(DbErr::RecordNotFound("organization".into()));
    }
    member::Entity::insert(member::ActiveModel::from(member))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Sets a member's role as the connection's group mapping decides it at login.
///
/// # Errors
/// Database failures; `RecordNotFound` when the scope is not the connection's organization.
pub async fn set_role_from_idp(
    db: &impl ConnectionTrait,
    connection: &sso_provider::Model,
    scope: &OrgScope,
    role: String,
) -> Result<(member::Model, MembershipChange), DbErr> {
    if connection.organization_id.as_deref() != Some(scope.org_id()) {
        return Err(DbErr::RecordNotFound("organization".into()));
    }
    let mut row: member::ActiveModel = scope.member().clone().into();
    row.role = Set(role);
    Ok((row.update(db).await?, MembershipChange::of(scope.org_id())))
}

/// What deprovisioning did to a membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deprovisioned {
    /// The membership (returned) is gone, with the user's seats in the organization's teams.
    Removed(member::Model, MembershipChange),
    /// The user was not a member.
    NotAMember,
    /// The user is the organization's only owner: an organization is never left without one.
    OnlyOwner,
}

fn is_owner(m: &member::Model) -> bool {
    crate::permissions::split_roles(&m.role)
        .iter()
        .any(|r| r == crate::permissions::CREATOR_ROLE)
}

async fn membership(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_id: &str,
) -> Result<Option<member::Model>, DbErr> {
    member::Entity::find()
        .filter(member::Column::OrganizationId.eq(&connection.organization_id))
        .filter(member::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// The role a directory gives when its mapping gives none (or only the owner role).
const DIRECTORY_DEFAULT_ROLE: &str = "member";

/// `role` as a directory may grant it: never the owner role, which only people give.
fn directory_role(role: &str) -> String {
    let granted = crate::permissions::split_roles(role)
        .into_iter()
        .filter(|r| r != crate::permissions::CREATOR_ROLE)
        .collect::<Vec<_>>()
        .join(",");
    if granted.is_empty() {
        DIRECTORY_DEFAULT_ROLE.to_owned()
    } else {
        granted
    }
}

/// The SCIM connection's user joins the connection's organization with `member`'s role (less
/// the owner role), unless they already belong to it. Returns the role they joined with.
///
/// # Errors
/// Database failures; `RecordNotFound` for a membership of another organization than the
/// connection's.
pub async fn scim_provision_member(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    mut member: member::Model,
) -> Result<Option<String>, DbErr> {
    if member.organization_id != connection.organization_id {
        return Err(DbErr::RecordNotFound("organization".into()));
    }
    lock_organization_id(db, &connection.organization_id).await?;
    if membership(db, connection, &member.user_id).await?.is_some() {
        return Ok(None);
    }
    member.role = directory_role(&member.role);
    let role = member.role.clone();
    member::Entity::insert(member::ActiveModel::from(member))
        .exec_without_returning(db)
        .await?;
    Ok(Some(role))
}

/// The SCIM connection's user leaves the connection's organization (and its teams).
///
/// # Errors
/// Database failures.
pub async fn scim_remove_member(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_id: &str,
) -> Result<Deprovisioned, DbErr> {
    lock_organization_id(db, &connection.organization_id).await?;
    let Some(row) = membership(db, connection, user_id).await? else {
        return Ok(Deprovisioned::NotAMember);
    };
    if is_owner(&row) {
        let owners = member::Entity::find()
            .filter(member::Column::OrganizationId.eq(&connection.organization_id))
            .all(db)
            .await?
            .iter()
            .filter(|m| is_owner(m))
            .count();
        if owners <= 1 {
            return Ok(Deprovisioned::OnlyOwner);
        }
    }
    let teams = crate::repo::team_ids(db, &connection.organization_id).await?;
    if !teams.is_empty() {
        team_member::Entity::delete_many()
            .filter(team_member::Column::TeamId.is_in(teams))
            .filter(team_member::Column::UserId.eq(user_id))
            .exec(db)
            .await?;
    }
    member::Entity::delete_by_id(row.id.clone()).exec(db).await?;
    Ok(Deprovisioned::Removed(
        row,
        MembershipChange::of(&connection.organization_id),
    ))
}

/// A SCIM-provisioned member's role, as the connection's group mapping decides it. Owners keep
/// theirs, and the owner role is never granted this way. Returns the roles it replaced and
/// granted, when it changed them, with the change to announce.
///
/// # Errors
/// Database failures.
pub async fn scim_set_role(
    db: &impl ConnectionTrait,
    connection: &scim_connection::Model,
    user_id: &str,
    role: &str,
) -> Result<Option<(String, String, MembershipChange)>, DbErr> {
    let granted = directory_role(role);
    let Some(row) = membership(db, connection, user_id).await? else {
        return Ok(None);
    };
    if is_owner(&row) || row.role == granted {
        return Ok(None);
    }
    let previous = row.role.clone();
    let mut change: member::ActiveModel = row.into();
    change.role = Set(granted.clone());
    change.update(db).await?;
    Ok(Some((
        previous,
        granted,
        MembershipChange::of(&connection.organization_id),
    )))
}

#[cfg(test)]
mod tests {
    use super::directory_role;

    #[test]
    fn a_directory_never_grants_the_owner_role() {
        assert_eq!(directory_role("admin"), "admin");
        assert_eq!(directory_role("admin,owner"), "admin");
        assert_eq!(directory_role("owner"), "member");
        assert_eq!(directory_role(""), "member");
    }
}
